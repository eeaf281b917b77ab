/**
 * Small helpers for message bodies: comparing them, viewing them as Buffers without copying, and
 * showing the start of one in a log line.
 */

/** Whether two bodies hold the same bytes. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && Buffer.compare(a, b) === 0

/** A Buffer over the same memory (amqplib publishes Buffers only). */
export const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** The first `max` bytes in hex, for logs. */
export const hex = (bytes: Uint8Array, max = 32): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString("hex") +
  (bytes.byteLength > max ? "..." : "")
