import { InMemory } from "@channel-layer/core"
import * as Conformance from "@channel-layer/core/Conformance"
import { Layer, Logger } from "effect"

Conformance.suite("InMemory", {
  // The suite fills channels and lets messages expire on purpose: the layer's warnings about it
  // are expected, and not printed (LocalQueues.test.ts asserts what they say).
  make: ({ capacity, channelCapacity, expiry }) =>
    InMemory.layer({ capacity, expiry, ...(channelCapacity ? { channelCapacity } : {}) }).pipe(
      Layer.provide(Logger.remove(Logger.defaultLogger))
    ),
  quietPeriod: "50 millis",
  modelRuns: 100,
  capabilities: {
    normalChannels: true,
    capacity: { slack: 0 },
    channelCapacity: true,
    expiry: true,
    multiInstance: false
  }
})
