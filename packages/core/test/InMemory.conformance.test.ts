import { InMemory } from "@channel-layer/core"
import * as Conformance from "@channel-layer/core/Conformance"

Conformance.suite("InMemory", {
  make: ({ capacity, channelCapacity, expiry }) =>
    InMemory.layer({ capacity, expiry, ...(channelCapacity ? { channelCapacity } : {}) }),
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
