/**
 * Which channel layer the chat runs on, from the environment: `CHANNEL_LAYER=memory` (the
 * default: one process, no broker), `rabbitmq` or `zeromq`. With a broker transport, several chat
 * servers share their rooms.
 */
import { type ChannelLayer, type Errors, InMemory } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { ZeroMQ } from "@channel-layer/zeromq"
import type { ConfigError } from "effect"
import { Config, Effect, Layer, Option } from "effect"

/** What building the channel layer can fail with: an option out of range, or a bad setting. */
export type LayerError = Errors.InvalidOptions | ConfigError.ConfigError

/** The transports the chat can run on. */
export const transports = ["memory", "rabbitmq", "zeromq"] as const

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
const zeromq: Layer.Layer<ChannelLayer.ChannelLayer, LayerError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const push = yield* Config.option(Config.string("ZMQ_PUSH"))
    if (Option.isSome(push)) {
      const subscribeAddress = yield* Config.string("ZMQ_SUB")
      yield* Effect.logInfo(`ZeroMQ dedicated: push to ${push.value}, subscribe to ${subscribeAddress}`)
      return ZeroMQ.layerDedicated({ pushAddress: push.value, subscribeAddress })
    }
    const publishAddress = yield* Config.string("ZMQ_PUBLISH").pipe(Config.withDefault("tcp://127.0.0.1:5555"))
    const subscribeAddresses = yield* Config.array(Config.string(), "ZMQ_SUBSCRIBE").pipe(
      Config.withDefault([publishAddress])
    )
    yield* Effect.logInfo(
      `ZeroMQ embedded: publish on ${publishAddress}, subscribe to ${subscribeAddresses.join(", ")}`
    )
    return ZeroMQ.layerEmbedded({ publishAddress, subscribeAddresses })
  })
)

/** The channel layer of one transport. */
export const layerFor = (transport: Transport): Layer.Layer<ChannelLayer.ChannelLayer, LayerError> => {
  switch (transport) {
    case "memory":
      return InMemory.layer()
    case "rabbitmq":
      // AMQP_URL, default amqp://guest:guest@127.0.0.1/asgi (the Python layer's default).
      return RabbitMQ.layerConfig({ url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL)) })
    case "zeromq":
      return zeromq
  }
}

/** The channel layer the environment asks for, with a log line that says which. */
export const layerFromEnv: Layer.Layer<ChannelLayer.ChannelLayer, LayerError> = Layer.unwrapEffect(
  Effect.map(
    Effect.tap(transportConfig, (transport) => Effect.logInfo(`channel layer: ${transport}`)),
    layerFor
  )
)
