import * as Conformance from "@channel-layer/core/Conformance"
import { ZeroMQ } from "@channel-layer/zeromq"
import { Duration, Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import { freePorts, tcp } from "./support/ports.js"
import { type Child, startProxy } from "./support/processes.js"
import { remoteLayer, secondOfMultiInstanceTest } from "./support/remote.js"

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
    Layer.unwrapEffect(Effect.sync(() => {
      const options = {
        pushAddress: tcp(pull),
        subscribeAddress: tcp(pub),
        capacity,
        expiry: Duration.toMillis(expiry),
        linger: 0,
        ...(channelCapacity ? { channelCapacity } : {})
      }
      // The second instance of a multi-instance test runs in a process of its own.
      return secondOfMultiInstanceTest() ? remoteLayer("dedicated", options) : ZeroMQ.layerDedicated(options)
    })),
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
