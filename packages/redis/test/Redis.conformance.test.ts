import * as Conformance from "@channel-layer/core/Conformance"
import { Redis } from "@channel-layer/redis"
import { Layer, Logger } from "effect"
import { testPrefix, url } from "./helpers.js"

// One prefix for the whole suite: instances of one test must see each other, and the groups and
// normal channels the tests name are made unique per test already.
const prefix = testPrefix("conformance")

Conformance.suite("Redis", {
  // The suite fills channels and lets messages expire on purpose: the warnings about it are
  // expected, and not printed (behaviour.test.ts checks the layer's own counting).
  make: ({ capacity, channelCapacity, expiry }) =>
    Redis.layer({ hosts: [url], prefix, capacity, expiry, ...(channelCapacity ? { channelCapacity } : {}) }).pipe(
      Layer.provide(Logger.remove(Logger.defaultLogger))
    ),
  capabilities: {
    normalChannels: true,
    sharedNormalChannels: true,
    capacity: { slack: 0 },
    channelCapacity: true,
    expiry: true,
    multiInstance: true
  }
})
