import { ChannelLayer } from "@channel-layer/core"
import { ZeroMQ } from "@channel-layer/zeromq"
import type { Scope } from "effect"
import { Context, Effect, Layer, Logger } from "effect"

/** A layer instance built in the current scope, with what it is. */
export const build = <E>(
  layer: Layer.Layer<ChannelLayer.ChannelLayer | ZeroMQ.ZeroMQTransport, E>
): Effect.Effect<
  { readonly layer: ChannelLayer.ChannelLayerService; readonly transport: ZeroMQ.TransportInfo },
  E,
  Scope.Scope
> =>
  Effect.map(Layer.build(layer), (context) => ({
    layer: Context.get(context, ChannelLayer.ChannelLayer),
    transport: Context.get(context, ZeroMQ.ZeroMQTransport)
  }))

/** A logger that keeps every line, for tests that check what was logged. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return {
    lines,
    text: () => lines.join("\n"),
    layer: Logger.replace(Logger.defaultLogger, logger)
  }
}
