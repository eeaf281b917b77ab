import * as Conformance from "@channel-layer/core/Conformance"
import { ZeroMQ } from "@channel-layer/zeromq"
import { Duration } from "effect"
import { afterAll, beforeAll } from "vitest"
import { freePorts, tcp } from "./support/ports.js"
import { type Child, startProxy } from "./support/processes.js"

// The proxy runs in a process of its own (the bin's program), as in production.
const [pull, pub] = await freePorts(2)
let proxy: Child | undefined

beforeAll(async () => {
  proxy = await startProxy(tcp(pull), tcp(pub))
})

afterAll(async () => {
  proxy?.kill("SIGTERM")
  await proxy?.exited
})

Conformance.suite("ZeroMQ dedicated", {
  make: ({ capacity, channelCapacity, expiry }) =>
    ZeroMQ.layerDedicated({
      pushAddress: tcp(pull),
      subscribeAddress: tcp(pub),
      capacity,
      expiry,
      linger: 0,
      ...(channelCapacity ? { channelCapacity } : {})
    }),
  capabilities: {
    flush: false,
    normalChannels: false,
    capacity: { slack: 0 },
    channelCapacity: false,
    expiry: true,
    multiInstance: true
  },
  quietPeriod: Duration.millis(200)
})
