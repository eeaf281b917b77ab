/**
 * Which channel layer the chat runs on, from the environment: `CHANNEL_LAYER=memory` (the
 * default: one process, no broker), `rabbitmq`, `redis` or `zeromq`. With a broker transport, several chat
 * servers share their rooms.
 */
import { type ChannelLayer, Errors, InMemory } from "@channel-layer/core"
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { Redis, RedisConnection } from "@channel-layer/redis"
import { ZeroMQ } from "@channel-layer/zeromq"
import type { ConfigError } from "effect"
import { Config, Context, Duration, Effect, Layer, Option, Schedule } from "effect"

/**
 * What building the channel layer can fail with: an option out of range, a bad setting, or (with
 * RabbitMQ or Redis) a broker that refuses the server or cannot be reached within `STARTUP_TIMEOUT`.
 */
export type LayerError = Errors.InvalidOptions | ConfigError.ConfigError | Errors.ConnectionClosed | Errors.LayerClosed

/**
 * Whether the channel layer can carry messages now, for the websocket handler and `/healthz`.
 */
export class LayerHealth extends Context.Tag("@channel-layer/example-chat/LayerHealth")<LayerHealth, {
  /** `undefined` while the layer is usable, else why not, in words for the page. */
  readonly problem: Effect.Effect<string | undefined>
}>() {}

/** A layer that needs no connection is always usable. */
const alwaysHealthy = Layer.succeed(LayerHealth, { problem: Effect.succeed(undefined) })

/** How long the server waits at startup for the broker before refusing to start (default 10 s). */
const startupTimeout = Config.duration("STARTUP_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

/**
 * RabbitMQ from `AMQP_URL` (default amqp://guest:guest@127.0.0.1/asgi, the Python layer's): the
 * server starts only once it is connected, and fails naming why when the broker refuses it (a
 * missing vhost, a wrong password) or stays unreachable for `STARTUP_TIMEOUT`. Later, while the
 * layer reconnects, `LayerHealth` says so.
 */
const rabbitmq: Layer.Layer<ChannelLayer.ChannelLayer | LayerHealth, LayerError> = Layer.effect(
  LayerHealth,
  Effect.gen(function*() {
    const connection = yield* RabbitMQConnection.RabbitMQConnection
    yield* connection.awaitReadyWithin(yield* startupTimeout)
    return {
      problem: Effect.map(connection.health, (health) => {
        switch (health.status) {
          case "connected":
            return undefined
          case "failed":
            return `RabbitMQ refuses the chat server: ${health.lastError}`
          case "closed":
            return "the chat server is shutting down"
          default:
            return "the chat server lost its connection to RabbitMQ and is reconnecting" +
              (health.lastError === undefined ? "" : ` (${health.lastError})`)
        }
      })
    }
  })
).pipe(
  Layer.provideMerge(
    RabbitMQ.layerConfig({ url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL)) })
  )
)

/** The Redis URL the chat uses when `REDIS_URL` is not set. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

/**
 * Redis from `REDIS_URL` (default redis://127.0.0.1:6379/0), its keys prefixed with `REDIS_PREFIX`
 * (default `asgi`, channels_redis's: servers with different prefixes do not share rooms). The server
 * starts only once it is connected, and fails naming the last connection error when Redis stays
 * unreachable (or refuses it: a wrong password) for `STARTUP_TIMEOUT`. Later, while the layer
 * reconnects, `LayerHealth` says so.
 */
const redis: Layer.Layer<ChannelLayer.ChannelLayer | LayerHealth, LayerError> = Layer.effect(
  LayerHealth,
  Effect.gen(function*() {
    const connection = yield* RedisConnection.RedisConnection
    const timeout = yield* startupTimeout
    // awaitReady gives up after the layer's waitForConnection: wait again until STARTUP_TIMEOUT.
    yield* connection.awaitReady.pipe(
      Effect.retry({
        while: (error) => error._tag === "ConnectionClosed",
        schedule: Schedule.spaced(Duration.millis(100))
      }),
      Effect.timeout(timeout),
      Effect.catchTag(
        "TimeoutException",
        () =>
          Effect.flatMap(connection.lastError, (lastError) =>
            new Errors.ConnectionClosed({
              reason: `Redis not reachable within ${Duration.format(timeout)} (STARTUP_TIMEOUT)` +
                (lastError === undefined ? "" : `: ${lastError}`)
            }))
      )
    )
    return {
      problem: Effect.flatMap(connection.isReady, (ready) =>
        ready
          ? Effect.succeed(undefined)
          : Effect.map(connection.lastError, (lastError) =>
            "the chat server lost its connection to Redis and is reconnecting" +
            (lastError === undefined ? "" : ` (${lastError})`)))
    }
  })
).pipe(
  Layer.provideMerge(
    Redis.layerConfig({
      hosts: Config.string("REDIS_URL").pipe(Config.withDefault(DEFAULT_REDIS_URL)),
      prefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault("asgi"))
    })
  )
)

/** The transports the chat can run on. */
export const transports = ["memory", "rabbitmq", "redis", "zeromq"] as const

/** @see transports */
export type Transport = (typeof transports)[number]

/** `CHANNEL_LAYER`, default `memory`. */
export const transportConfig: Config.Config<Transport> = Config.literal(...transports)("CHANNEL_LAYER").pipe(
  Config.withDefault("memory" as const)
)

/**
 * ZeroMQ from the environment. With `ZMQ_PUSH` and `ZMQ_SUB` set, the dedicated mode: push to a
 * proxy (`npx channel-layer-zmq-proxy --pull tcp://127.0.0.1:5557 --pub tcp://127.0.0.1:5556`)
 * and subscribe to it. Otherwise the embedded mode, no proxy: bind a PUB socket at `ZMQ_PUBLISH`
 * (default tcp://127.0.0.1:5555) and subscribe to every server's PUB socket listed in
 * `ZMQ_SUBSCRIBE` (comma-separated, this server's included; default: `ZMQ_PUBLISH` alone).
 */
const zeromq: Layer.Layer<ChannelLayer.ChannelLayer | LayerHealth, LayerError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const push = yield* Config.option(Config.string("ZMQ_PUSH"))
    if (Option.isSome(push)) {
      const subscribeAddress = yield* Config.string("ZMQ_SUB")
      yield* Effect.logInfo(`ZeroMQ dedicated: push to ${push.value}, subscribe to ${subscribeAddress}`)
      return Layer.merge(ZeroMQ.layerDedicated({ pushAddress: push.value, subscribeAddress }), alwaysHealthy)
    }
    const publishAddress = yield* Config.string("ZMQ_PUBLISH").pipe(Config.withDefault("tcp://127.0.0.1:5555"))
    const subscribeAddresses = yield* Config.array(Config.string(), "ZMQ_SUBSCRIBE").pipe(
      Config.withDefault([publishAddress])
    )
    yield* Effect.logInfo(
      `ZeroMQ embedded: publish on ${publishAddress}, subscribe to ${subscribeAddresses.join(", ")}`
    )
    return Layer.merge(ZeroMQ.layerEmbedded({ publishAddress, subscribeAddresses }), alwaysHealthy)
  })
)

/** The channel layer of one transport. */
export const layerFor = (transport: Transport): Layer.Layer<ChannelLayer.ChannelLayer | LayerHealth, LayerError> => {
  switch (transport) {
    case "memory":
      return Layer.merge(InMemory.layer(), alwaysHealthy)
    case "rabbitmq":
      return rabbitmq
    case "redis":
      return redis
    case "zeromq":
      return zeromq
  }
}

/** The channel layer the environment asks for, with a log line that says which. */
export const layerFromEnv: Layer.Layer<ChannelLayer.ChannelLayer | LayerHealth, LayerError> = Layer.unwrapEffect(
  Effect.map(
    Effect.tap(transportConfig, (transport) => Effect.logInfo(`channel layer: ${transport}`)),
    layerFor
  )
)
