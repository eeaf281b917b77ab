/**
 * The channel layer a command line asks for, as a Layer.
 *
 * @since 0.1.0
 */
import { type ChannelLayer, InMemory } from "@channel-layer/core"
import type { Layer } from "effect"
import type { TransportOptions } from "./Args.js"

/**
 * The `ChannelLayer` of the transport options: in-memory (this process only, for `self-test`),
 * RabbitMQ or ZeroMQ.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TransportOptions): Layer.Layer<ChannelLayer.ChannelLayer, unknown> => {
  switch (options.transport) {
    case "memory":
    case "rabbitmq":
    case "zeromq":
      return InMemory.layer()
  }
}
