import * as Conformance from "@channel-layer/core/Conformance"
import { Redis } from "@channel-layer/redis"
import { Layer, Logger } from "effect"
import { testPrefix, url } from "./helpers.js"

// The conformance suite on two hosts (two databases of the test Redis stand for two servers): keys
// sharded as channels_redis does, this instance's keys and normal channels read on both.
const base = url.replace(/\/\d*$/, "")
const hosts = [`${base}/1`, `${base}/2`]
const prefix = testPrefix("sharded")

Conformance.suite("Redis, two hosts", {
  // Expected warnings (full channels, expiry) are not printed, as in the one-host suite.
  make: ({ capacity, channelCapacity, expiry }) =>
    Redis.layer({ hosts, prefix, capacity, expiry, ...(channelCapacity ? { channelCapacity } : {}) }).pipe(
      Layer.provide(Logger.remove(Logger.defaultLogger))
    ),
  capabilities: {
    normalChannels: true,
    sharedNormalChannels: true,
    // Capacity is per key and host: a normal channel, written round robin, holds up to capacity × hosts.
    capacity: { slack: 0 },
    channelCapacity: true,
    expiry: true,
    multiInstance: true
  }
})
