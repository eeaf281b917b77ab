/**
 * Messages as JSON text, for the command line. JSON has no bytes, no integers beyond 2^53 and
 * no NaN, infinities or -0, so those are tagged: `{"$bytes": "<base64>"}` is a Uint8Array,
 * `{"$int": "<digits>"}` a bigint and `{"$float": "NaN" | "Infinity" | "-Infinity" | "-0"}` a
 * float, both ways.
 *
 * @since 0.1.0
 */
import { Errors, Message } from "@channel-layer/core"
import { Either } from "effect"

const isTagged = (value: object, tag: string): value is Record<string, string> => {
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0] === tag && typeof (value as Record<string, unknown>)[tag] === "string"
}

const specialFloats: Record<string, number> = {
  "NaN": Number.NaN,
  "Infinity": Number.POSITIVE_INFINITY,
  "-Infinity": Number.NEGATIVE_INFINITY,
  "-0": -0
}

const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive)
  if (typeof value === "object" && value !== null) {
    if (isTagged(value, "$bytes")) return new Uint8Array(Buffer.from(value.$bytes, "base64"))
    if (isTagged(value, "$int") && /^-?\d+$/.test(value.$int)) return BigInt(value.$int)
    if (isTagged(value, "$float") && value.$float in specialFloats) return specialFloats[value.$float]
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
 * One message as one line of JSON, bytes, bigints and the floats JSON cannot write tagged.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMessage = (message: Message.Message): string =>
  JSON.stringify(message, (_key, value: unknown) => {
    if (typeof value === "bigint") return { $int: value.toString() }
    if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") }
    if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0))) {
      return { $float: Object.is(value, -0) ? "-0" : String(value) }
    }
    return value
  })
