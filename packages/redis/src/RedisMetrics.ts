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

/**
 * Stored messages popped from Redis and dropped because none of the layer's
 * `symmetricEncryptionKeys` opens their Fernet token (sealed with another key, tampered with, or
 * older than expiry + 10 s), or because they are not encrypted while the layer expects tokens.
 *
 * @since 0.1.0
 * @category metrics
 */
export const undecryptableMessages = Metric.counter("channel_layer_undecryptable_messages", {
  description: "stored messages dropped because no symmetric encryption key opens them",
  incremental: true
})
