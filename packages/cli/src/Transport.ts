/**
 * The channel layer a command line asks for, as a Layer.
 *
 * @since 0.1.0
 */
import { type ChannelLayer, InMemory } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { ZeroMQ } from "@channel-layer/zeromq"
import type { Layer } from "effect"
import type { TransportOptions } from "./Args.js"

/**
 * The `ChannelLayer` of the transport options: in-memory (this process only, for `self-test`),
 * RabbitMQ, or ZeroMQ (dedicated when the proxy's two addresses are given, else embedded).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TransportOptions): Layer.Layer<ChannelLayer.ChannelLayer, unknown> => {
  switch (options.transport) {
    case "memory":
      return InMemory.layer()
    case "rabbitmq":
      return RabbitMQ.layer({
        ...(options.urls.length > 0 ? { url: options.urls } : {}),
        ...(options.groupsExchange === undefined ? {} : { groupsExchange: options.groupsExchange }),
        ...(options.wait === undefined ? {} : { waitForConnection: options.wait })
      })
    case "zeromq":
      return options.zmqPush !== undefined && options.zmqSub !== undefined
        ? ZeroMQ.layerDedicated({ pushAddress: options.zmqPush, subscribeAddress: options.zmqSub })
        : ZeroMQ.layerEmbedded({
          publishAddress: options.zmqPublish ?? "tcp://127.0.0.1:*",
          subscribeAddresses: options.zmqSubscribe
        })
  }
}
