/**
 * One Redis layer instance: core's `ChannelLayer` on the Redis backend, and the
 * `RedisConnection` service on the same command connection.
 */
import { ChannelLayer, type Errors } from "@channel-layer/core"
import type { Scope } from "effect"
import { Effect } from "effect"
import type { RedisOptions, RedisServices } from "../Redis.js"
import * as Backend from "./backend.js"
import * as Options from "./options.js"

/** Makes one layer instance in the current scope. */
export const make = (options: RedisOptions): Effect.Effect<RedisServices, Errors.InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* Options.resolve(options)
    const made = yield* ChannelLayer.make({
      transport: "redis",
      expiry: resolved.expiry,
      // The local buffers of this instance's channels: sends from here fail with ChannelFull at
      // the capacity, deliveries popped from Redis into a full one are dropped and counted.
      capacityOf: resolved.capacityOf,
      maxMessageSize: resolved.maxMessageSize,
      groupExpiry: resolved.groupExpiry,
      backend: (context) => Backend.make(resolved, context)
    })
    return { channelLayer: made.service, connection: made.backend.connection }
  })
