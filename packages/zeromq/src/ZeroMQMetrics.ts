/**
 * Metrics of the ZeroMQ transports and proxy, next to core's `Metrics` (messages sent, received,
 * expired, rejected as full, reconnects, buffered), all labelled with `transport` (`zeromq` for
 * the layers, `zeromq-proxy` for the proxy).
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/**
 * Direct messages dropped by a publisher (the embedded layer's PUB socket or the proxy) because
 * the process that owns the channel is not subscribed to it: it left, or it did not subscribe
 * within the hold time.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesUnroutable = Metric.counter("channel_layer_messages_unroutable", {
  description: "direct messages dropped because no process owning the channel was subscribed",
  incremental: true
})

/**
 * Direct messages a publisher held back until the process that owns the channel subscribed (the
 * slow-joiner guard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesHeld = Metric.counter("channel_layer_messages_held", {
  description: "direct messages held until the owning process subscribed",
  incremental: true
})

/**
 * Received frames that are not a channel-layer message (dropped and logged).
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesMalformed = Metric.counter("channel_layer_messages_malformed", {
  description: "received frames that are not a channel-layer message",
  incremental: true
})

/**
 * Group messages a sender dropped because its socket was at the high-water mark (a group send
 * never fails with ChannelFull).
 *
 * @since 0.1.0
 * @category metrics
 */
export const groupMessagesDropped = Metric.counter("channel_layer_group_messages_dropped", {
  description: "group messages dropped by the sender at the high-water mark",
  incremental: true
})

/**
 * Messages the proxy forwarded from its PULL socket to its PUB socket.
 *
 * @since 0.1.0
 * @category metrics
 */
export const proxyForwarded = Metric.counter("channel_layer_proxy_messages_forwarded", {
  description: "messages the proxy forwarded from PULL to PUB",
  incremental: true
})
