/**
 * How a command reaches the channel layer: the transport options every command takes (each with
 * its environment variable) and the Layer they describe.
 *
 * @since 0.1.0
 */
import { type ChannelLayer, type Errors, InMemory } from "@channel-layer/core"
import * as CommandLine from "@channel-layer/core/CommandLine"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { Redis } from "@channel-layer/redis"
import { ZeroMQ } from "@channel-layer/zeromq"
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Config, Effect, Option } from "effect"
import type { Duration, Layer } from "effect"

/**
 * The transports the CLI can use.
 *
 * @since 0.1.0
 * @category models
 */
export const transports = ["memory", "rabbitmq", "redis", "zeromq"] as const

/**
 * @since 0.1.0
 * @category models
 */
export type Transport = (typeof transports)[number]

/**
 * How to reach the channel layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions {
  readonly transport: Transport
  /** RabbitMQ broker URLs, tried in turn (`--url`, env `AMQP_URL`); empty: the layer's default. */
  readonly urls: ReadonlyArray<string>
  /** RabbitMQ groups exchange (`--groups-exchange`). */
  readonly groupsExchange: Option.Option<string>
  /** How long to wait for RabbitMQ or Redis before failing with ConnectionClosed (`--wait`). */
  readonly wait: Option.Option<Duration.Duration>
  /** The Redis server (`--redis-url`, env `REDIS_URL`); none: the Redis layer's default. */
  readonly redisUrl: Option.Option<string>
  /** The prefix of the Redis keys (`--redis-prefix`, env `REDIS_PREFIX`); none: the layer's default, `asgi`. */
  readonly redisPrefix: Option.Option<string>
  /** ZeroMQ: the proxy's PULL address producers push to (`--zmq-push`, env `ZMQ_PUSH`). */
  readonly zmqPush: Option.Option<string>
  /** ZeroMQ: the PUB address consumers subscribe to (`--zmq-sub`, env `ZMQ_SUB`). */
  readonly zmqSub: Option.Option<string>
  /** ZeroMQ embedded: where to bind this process's PUB socket (`--zmq-publish`, env `ZMQ_PUBLISH`). */
  readonly zmqPublish: Option.Option<string>
  /** ZeroMQ embedded: the PUB sockets to subscribe to (`--zmq-subscribe`, env `ZMQ_SUBSCRIBE`, comma-separated). */
  readonly zmqSubscribe: ReadonlyArray<string>
}

/** An environment variable's value, or the items of its comma-separated list; unset or empty: none. */
const fromEnv = (name: string, list: boolean) =>
  Config.string(name).pipe(
    Config.map((value) => (list ? value.split(",") : [value]).map((item) => item.trim()).filter((item) => item !== "")),
    Config.withDefault([]),
    Effect.mapError((error) => ValidationError.invalidValue(HelpDoc.p(`${name}: ${error.message}`)))
  )

/** A repeatable option; when it is not given, the environment variable instead. */
const repeatedOrEnv = (name: string, pseudoName: string, env: string, list: boolean) =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.repeated,
    Options.mapEffect((given) => given.length > 0 ? Effect.succeed(given) : fromEnv(env, list))
  )

const optionalOrEnv = (name: string, env: string, pseudoName = "ADDRESS") =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.withFallbackConfig(Config.string(env)),
    Options.optional
  )

/**
 * The transport options of every command.
 *
 * @since 0.1.0
 * @category options
 */
export const options: Options.Options<TransportOptions> = Options.all({
  transport: CommandLine.oneOf("layer", transports.map((transport) => [transport, transport] as const)).pipe(
    Options.withFallbackConfig(Config.literal(...transports)("CHANNEL_LAYER")),
    Options.withDefault("rabbitmq" as const),
    Options.withDescription(
      "which channel layer (env CHANNEL_LAYER; default rabbitmq); memory lives in this process only"
    )
  ),
  urls: repeatedOrEnv("url", "URL", "AMQP_URL", false).pipe(
    Options.withDescription(
      "RabbitMQ broker URL, repeat for failover (env AMQP_URL; default amqp://guest:guest@127.0.0.1/asgi). " +
        "A password here shows in ps to every user: give it in AMQP_URL"
    )
  ),
  groupsExchange: Options.text("groups-exchange").pipe(
    Options.withPseudoName("NAME"),
    Options.optional,
    Options.withDescription("RabbitMQ exchange for groups (default groups)")
  ),
  wait: CommandLine.duration("wait").pipe(
    Options.optional,
    Options.withDescription(
      `how long to wait for RabbitMQ or Redis before failing (default 10s): ${CommandLine.durationSyntax()}`
    )
  ),
  redisUrl: optionalOrEnv("redis-url", "REDIS_URL", "URL").pipe(
    Options.withDescription(
      "the Redis server, redis://[:password@]host[:port][/db], rediss://... or unix://... " +
        "(env REDIS_URL; default redis://localhost:6379). A password here shows in ps to every user: give it in REDIS_URL"
    )
  ),
  redisPrefix: optionalOrEnv("redis-prefix", "REDIS_PREFIX", "PREFIX").pipe(
    Options.withDescription(
      "the prefix of the Redis keys (env REDIS_PREFIX; default asgi, channels_redis's): " +
        "only processes with the same prefix see each other"
    )
  ),
  zmqPush: optionalOrEnv("zmq-push", "ZMQ_PUSH").pipe(
    Options.withDescription("ZeroMQ dedicated mode: the proxy's PULL address (env ZMQ_PUSH)")
  ),
  zmqSub: optionalOrEnv("zmq-sub", "ZMQ_SUB").pipe(
    Options.withDescription("ZeroMQ dedicated mode: the proxy's PUB address (env ZMQ_SUB)")
  ),
  zmqPublish: optionalOrEnv("zmq-publish", "ZMQ_PUBLISH").pipe(
    Options.withDescription(
      "ZeroMQ embedded mode: bind this process's PUB socket here (env ZMQ_PUBLISH; default tcp://127.0.0.1:*)"
    )
  ),
  zmqSubscribe: repeatedOrEnv("zmq-subscribe", "ADDRESS", "ZMQ_SUBSCRIBE", true).pipe(
    Options.withDescription(
      "ZeroMQ embedded mode: a peer's PUB socket, repeatable (env ZMQ_SUBSCRIBE, comma-separated); " +
        "peers hear this process only if they subscribe to its --zmq-publish address"
    )
  )
}).pipe(
  Options.mapEffect((options) =>
    options.transport === "zeromq" && Option.isSome(options.zmqPush) !== Option.isSome(options.zmqSub)
      ? Effect.fail(ValidationError.invalidValue(
        HelpDoc.p("ZeroMQ's dedicated mode needs both --zmq-push and --zmq-sub (the proxy's PULL and PUB addresses)")
      ))
      : Effect.succeed(options)
  )
)

/**
 * The `ChannelLayer` of the transport options: in-memory (this process only, for `self-test`),
 * RabbitMQ, Redis, or ZeroMQ (dedicated when the proxy's two addresses are given, else embedded).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TransportOptions): Layer.Layer<ChannelLayer.ChannelLayer, Errors.InvalidOptions> => {
  switch (options.transport) {
    case "memory":
      return InMemory.layer()
    case "rabbitmq":
      return RabbitMQ.layer({
        ...(options.urls.length > 0 ? { url: options.urls } : {}),
        ...Option.match(options.groupsExchange, {
          onNone: () => ({}),
          onSome: (groupsExchange) => ({ groupsExchange })
        }),
        ...Option.match(options.wait, { onNone: () => ({}), onSome: (waitForConnection) => ({ waitForConnection }) })
      })
    case "redis":
      return Redis.layer({
        ...Option.match(options.redisUrl, { onNone: () => ({}), onSome: (hosts) => ({ hosts }) }),
        ...Option.match(options.redisPrefix, { onNone: () => ({}), onSome: (prefix) => ({ prefix }) }),
        ...Option.match(options.wait, { onNone: () => ({}), onSome: (waitForConnection) => ({ waitForConnection }) })
      })
    case "zeromq":
      return Option.match(Option.all([options.zmqPush, options.zmqSub]), {
        onSome: ([pushAddress, subscribeAddress]) => ZeroMQ.layerDedicated({ pushAddress, subscribeAddress }),
        onNone: () =>
          ZeroMQ.layerEmbedded({
            publishAddress: Option.getOrElse(options.zmqPublish, () => "tcp://127.0.0.1:*"),
            subscribeAddresses: options.zmqSubscribe
          })
      })
  }
}
