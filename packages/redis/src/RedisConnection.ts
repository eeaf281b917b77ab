/**
 * The Redis connection of a channel layer instance: readiness for health checks, and the layer's
 * command connection for an application's own commands next to the layer.
 *
 * ```ts
 * import { Redis, RedisConnection } from "@channel-layer/redis"
 * import { Effect } from "effect"
 *
 * const health = Effect.gen(function*() {
 *   const redis = yield* RedisConnection.RedisConnection
 *   return (yield* redis.isReady) ? "ok" : `down: ${yield* redis.lastError}`
 * })
 *
 * health.pipe(Effect.provide(Redis.layer({ hosts: ["redis://127.0.0.1:6379/0"] })))
 * ```
 *
 * @since 0.1.0
 */
import type { Errors } from "@channel-layer/core"
import type { Effect } from "effect"
import { Context } from "effect"

/**
 * Access to the layer's connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisConnectionService {
  /** Whether the command connection is ready now (never waits): a readiness probe. With several hosts, every host's. */
  readonly isReady: Effect.Effect<boolean>
  /** Waits until the command connection is ready, up to the layer's `waitForConnection`. */
  readonly awaitReady: Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed>
  /** Why the connection was last lost or could not be made, if it ever was (the first host's that has one). */
  readonly lastError: Effect.Effect<string | undefined>
  /**
   * Runs one command on the layer's command connection to its first host (not a blocking one: BLPOP and the like
   * would hold up the layer's sends), waiting for it up to `waitForConnection`. Bulk replies are
   * `Buffer`s. Redis's error replies fail with `ConnectionClosed` carrying Redis's message.
   */
  readonly command: (
    args: ReadonlyArray<string | Buffer>
  ) => Effect.Effect<unknown, Errors.ConnectionClosed | Errors.LayerClosed>
  /** This instance's part of its process-local channel names: `<prefix>.<clientPrefix>!<id>`. */
  readonly clientPrefix: string
}

/**
 * The service tag, provided by `Redis.layer` next to `ChannelLayer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisConnection extends Context.Tag("@channel-layer/redis/RedisConnection")<
  RedisConnection,
  RedisConnectionService
>() {}
