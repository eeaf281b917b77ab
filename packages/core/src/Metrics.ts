/**
 * The metrics every transport records, labelled with `transport` (`memory`, `rabbitmq`,
 * `zeromq`). Read them with Effect's metric APIs or export them with an OpenTelemetry layer.
 *
 * @since 0.1.0
 */
import { Metric, MetricLabel } from "effect"

/**
 * Messages accepted by `send` and `groupSend` (one per group send, whatever the member count).
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesSent = Metric.counter("channel_layer_messages_sent", {
  description: "messages accepted by send and groupSend",
  incremental: true
})

/**
 * Messages handed to a `receive` caller.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesReceived = Metric.counter("channel_layer_messages_received", {
  description: "messages handed to a receive caller",
  incremental: true
})

/**
 * Messages dropped because they outlived their expiry before anyone received them.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesExpired = Metric.counter("channel_layer_messages_expired", {
  description: "messages dropped undelivered after their expiry",
  incremental: true
})

/**
 * Messages rejected or dropped because a channel was at its capacity.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesRejectedFull = Metric.counter("channel_layer_messages_rejected_full", {
  description: "messages rejected (send) or dropped (group member) because the channel was full",
  incremental: true
})

/**
 * Messages the broker could not route: a direct send to a channel whose owner is gone.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesUnroutable = Metric.counter("channel_layer_messages_unroutable", {
  description: "direct messages the broker dropped because no queue had the channel's name",
  incremental: true
})

/**
 * Reconnections of a broker transport.
 *
 * @since 0.1.0
 * @category metrics
 */
export const reconnects = Metric.counter("channel_layer_reconnects", {
  description: "reconnections to the broker",
  incremental: true
})

/**
 * Failed attempts to connect to a broker (each address tried counts once).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectFailures = Metric.counter("channel_layer_connect_failures", {
  description: "failed attempts to connect to the broker",
  incremental: true
})

/**
 * Messages waiting in local buffers for a receiver.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bufferedMessages = Metric.gauge("channel_layer_buffered_messages", {
  description: "messages waiting in local buffers"
})

/**
 * The `transport` label of a transport's metrics. Make it once per layer and pass the same array
 * to every `unsafeUpdate`: Effect caches a metric's hook by the identity of that array.
 *
 * @since 0.1.0
 * @category metrics
 */
export const transportLabel = (transport: string): ReadonlyArray<MetricLabel.MetricLabel> => [
  MetricLabel.make("transport", transport)
]
