/**
 * Metrics of the Redis transport beyond the ones every transport records (core's `Metrics`:
 * sent, received, expired, rejected as full, reconnects, connect failures, buffered). Labelled
 * `transport=redis` like those.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/**
 * Stored messages popped from Redis and dropped because they are not channel-layer messages (not
 * 12 bytes and msgpack with a string `type`), or are addressed to a channel of another process.
 *
 * @since 0.1.0
 * @category metrics
 */
export const skippedMessages = Metric.counter("channel_layer_skipped_messages", {
  description: "stored messages dropped because they could not be decoded or were misaddressed",
  incremental: true
})

/**
 * Messages popped from a normal channel's key and put back because the receive that popped them
 * was interrupted (another receiver gets them).
 *
 * @since 0.1.0
 * @category metrics
 */
export const messagesPutBack = Metric.counter("channel_layer_messages_put_back", {
  description: "messages popped by an interrupted receive and put back into Redis",
  incremental: true
})
