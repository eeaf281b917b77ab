/**
 * The benchmark payload: a Django-style chat event of about 100 bytes once msgpack-encoded.
 *
 * Every scenario (floors and transports) moves the same shape, so ratios compare like with like.
 * @since 0.1.0
 */
import { Packr } from "msgpackr"

/**
 * A message as the channel layer sees it: a plain object with a string `type`.
 * Latency runs add `seq` so the receiver can look up when the message was sent.
 * @since 0.1.0
 * @category models
 */
export type BenchMessage = {
  readonly type: string
  readonly text: string
  readonly seq?: number
}

/**
 * The 71-character text of every message; `{ type: "chat.message", text }` is 99 bytes of msgpack.
 * @since 0.1.0
 * @category constants
 */
export const TEXT = "Hello room 42! This is a benchmark chat message of about seventy chars."

/**
 * The msgpack codec the raw floors use: msgpackr without records (plain maps, what Python decodes).
 * @since 0.1.0
 * @category codec
 */
export const packr = new Packr({ useRecords: false })

/**
 * Encodes a message to msgpack bytes.
 * @since 0.1.0
 * @category codec
 */
export const encode = (message: BenchMessage): Buffer => packr.pack(message)

/**
 * Decodes msgpack bytes back to a message.
 * @since 0.1.0
 * @category codec
 */
export const decode = (bytes: Uint8Array): BenchMessage => packr.unpack(bytes) as BenchMessage

/**
 * `count` distinct message objects, created before any timing starts.
 * With `withSeq`, message `i` carries `seq: i` (latency runs).
 * @since 0.1.0
 * @category constructors
 */
export const makeMessages = (count: number, withSeq = false): ReadonlyArray<BenchMessage> => {
  const messages = new Array<BenchMessage>(count)
  for (let i = 0; i < count; i++) {
    messages[i] = withSeq ? { type: "chat.message", text: TEXT, seq: i } : { type: "chat.message", text: TEXT }
  }
  return messages
}

/**
 * The encoded size in bytes of the throughput message (reported with the results).
 * @since 0.1.0
 * @category constants
 */
export const messageBytes: number = encode({ type: "chat.message", text: TEXT }).length
