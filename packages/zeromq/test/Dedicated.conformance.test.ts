import * as Conformance from "@channel-layer/core/Conformance"
import { afterAll, beforeAll } from "vitest"
import { subject } from "./support/conformance.js"
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

Conformance.suite(
  "ZeroMQ dedicated",
  subject({ mode: "dedicated", addresses: () => ({ pushAddress: tcp(pull), subscribeAddress: tcp(pub) }) })
)
