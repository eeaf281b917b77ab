/**
 * Which channel layer the chat runs on, from the environment: `CHANNEL_LAYER=memory` (the
 * default: one process, no broker), `rabbitmq` or `zeromq`. With a broker transport, several chat
 * servers share their rooms.
 */
import { ChannelLayer, InMemory } from "@channel-layer/core"
import { Config, Effect, Layer } from "effect"

/** The transports the chat can run on. */
export const transports = ["memory"] as const

/** @see transports */
export type Transport = (typeof transports)[number]

/** `CHANNEL_LAYER`, default `memory`. */
export const transportConfig: Config.Config<Transport> = Config.literal(...transports)("CHANNEL_LAYER").pipe(
  Config.withDefault("memory" as const)
)

/** The channel layer of one transport. */
export const layerFor = (transport: Transport): Layer.Layer<ChannelLayer.ChannelLayer, unknown> => {
  switch (transport) {
    case "memory":
      return InMemory.layer()
  }
}

/** The channel layer the environment asks for, with a log line that says which. */
export const layerFromEnv: Layer.Layer<ChannelLayer.ChannelLayer, unknown> = Layer.unwrapEffect(
  Effect.map(
    Effect.tap(transportConfig, (transport) => Effect.logInfo(`channel layer: ${transport}`)),
    layerFor
  )
)
