/**
 * Messages as JSON text, for the command line. JSON has no bytes and no integers beyond 2^53, so
 * those are tagged: `{"$bytes": "<base64>"}` is a Uint8Array and `{"$int": "<digits>"}` a bigint
 * (int64), both ways.
 *
 * @since 0.1.0
 */
import { Errors, Message } from "@channel-layer/core"
import { Either } from "effect"

const isTagged = (value: object, tag: string): value is Record<string, string> => {
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0] === tag && typeof (value as Record<string, unknown>)[tag] === "string"
}

const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive)
  if (typeof value === "object" && value !== null) {
    if (isTagged(value, "$bytes")) return new Uint8Array(Buffer.from(value.$bytes, "base64"))
    if (isTagged(value, "$int") && /^-?\d+$/.test(value.$int)) return BigInt(value.$int)
    const out: Record<string, unknown> = {}
    for (const [key, inner] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: revive(inner), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  return value
}

/**
 * Parses a message from JSON text (with the `$bytes` and `$int` tags) and checks it is a
 * channel-layer message.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMessage = (text: string): Either.Either<Message.Message, Errors.InvalidMessage> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return Either.left(new Errors.InvalidMessage({ path: "$", reason: `not JSON: ${(error as Error).message}` }))
  }
  return Message.copy(revive(parsed))
}

/**
 * One message as one line of JSON, bytes and int64s tagged.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMessage = (message: Message.Message): string =>
  JSON.stringify(message, (_key, value: unknown) => {
    if (typeof value === "bigint") return { $int: value.toString() }
    if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") }
    return value
  })
