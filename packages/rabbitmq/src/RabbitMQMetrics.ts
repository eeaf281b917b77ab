/**
 * Metrics of the RabbitMQ transport beyond the ones every transport records (core's `Metrics`:
 * sent, received, expired, rejected as full, reconnects, buffered). Labelled
 * `transport=rabbitmq` like those.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/**
 * Connection attempts that failed (every address of every URL refused, timed out or failed the
 * handshake or setup), first connection and reconnections alike.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectFailures = Metric.counter("channel_layer_connect_failures", {
  description: "failed attempts to connect to the broker",
  incremental: true
})

/**
 * Deliveries that were acknowledged and dropped because their body is not a channel-layer message
 * (not msgpack, no envelope key, a non-string key) or is addressed to another queue's channel.
 *
 * @since 0.1.0
 * @category metrics
 */
export const skippedMessages = Metric.counter("channel_layer_skipped_messages", {
  description: "deliveries dropped because they could not be decoded or were misaddressed",
  incremental: true
})

/**
 * Group sends the broker returned because no queue was bound for the group: it had no member on
 * any instance (a normal case, counted so that it never goes unseen).
 *
 * @since 0.1.0
 * @category metrics
 */
export const groupSendsUnroutable = Metric.counter("channel_layer_group_sends_unroutable", {
  description: "group sends that reached no queue: the group had no member anywhere",
  incremental: true
})

/**
 * Deliveries the broker handed over again after a reconnect that this process already had
 * (buffered, or received and acknowledged in an ack the broker never read): acknowledged and
 * dropped, so that no message is delivered twice.
 *
 * @since 0.1.0
 * @category metrics
 */
export const redeliveriesDropped = Metric.counter("channel_layer_redeliveries_dropped", {
  description: "redelivered messages dropped because this process already had them",
  incremental: true
})
