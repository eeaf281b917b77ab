/**
 * The wire format every transport shares: msgpack of the message plus one envelope key naming the
 * recipient, `__asgi_channel__` (direct) or `__asgi_group__` (group), written last, exactly as
 * Python's channels_rabbitmq writes it. The ZeroMQ transport adds `__asgi_expires__`, the
 * sender's expiry deadline in epoch milliseconds.
 *
 * Strings are UTF-8 both ways. A body with a string (a value or a map key) that is not
 * well-formed UTF-8 (an overlong form, an encoded UTF-16 surrogate, a stray continuation byte, a
 * sequence cut short) does not decode: `decode` returns a `MessageDecodeError` whose reason says
 * "invalid UTF-8 in a string at byte N" and what is wrong there, and the transports drop and log
 * it as any body they cannot decode, rather than deliver text with U+FFFD in place of the bad
 * bytes (the API refuses to send a lone surrogate for the same reason).
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import { MessageDecodeError } from "./Errors.js"
import { MsgpackError, Reader, sizeBound, Writer } from "./internal/msgpack.js"
import type { Message, MessageValue } from "./Message.js"

/**
 * The envelope key of a direct message.
 *
 * @since 0.1.0
 * @category constants
 */
export const CHANNEL_KEY = "__asgi_channel__"

/**
 * The envelope key of a group message.
 *
 * @since 0.1.0
 * @category constants
 */
export const GROUP_KEY = "__asgi_group__"

/**
 * The envelope key of an expiry deadline (epoch milliseconds), used by transports without
 * broker-side expiry.
 *
 * @since 0.1.0
 * @category constants
 */
export const EXPIRES_KEY = "__asgi_expires__"

/**
 * Who a message is for, and optionally when it expires.
 *
 * @since 0.1.0
 * @category models
 */
export type Envelope =
  | { readonly channel: string; readonly group?: undefined; readonly expiresAt?: number }
  | { readonly group: string; readonly channel?: undefined; readonly expiresAt?: number }

/**
 * A decoded body: the message without its envelope keys, and the envelope.
 *
 * @since 0.1.0
 * @category models
 */
export type Decoded = Envelope & { readonly message: Message }

const writer = new Writer()

/**
 * Encodes a validated message (see `Message.copy`) with its envelope. Keys keep their order; the
 * envelope comes last.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (message: Message, envelope: Envelope): Uint8Array => {
  write(message, envelope)
  return writer.finish()
}

/**
 * The size in bytes of what `encode` would return for the message and envelope when it is more
 * than `limit`, `undefined` when it is not: for a transport that delivers some messages without
 * encoding them but holds them to the size limit of the ones it encodes. It encodes (without
 * copying the bytes out) only when an upper bound found from the lengths of the message's strings,
 * byte arrays and collections is over `limit`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodedSizeOver = (message: Message, envelope: Envelope, limit: number): number | undefined => {
  // The envelope's key and recipient, and the expiry key and deadline (sizeBound of the message
  // has room for the largest map header already).
  const envelopeBound = envelope.channel !== undefined
    ? sizeBound(CHANNEL_KEY, limit) + sizeBound(envelope.channel, limit)
    : sizeBound(GROUP_KEY, limit) + sizeBound(envelope.group, limit)
  const bound = envelopeBound + sizeBound(EXPIRES_KEY, limit) + sizeBound(0, limit)
  if (bound <= limit && bound + sizeBound(message, limit - bound) <= limit) return undefined
  write(message, envelope)
  return writer.size > limit ? writer.size : undefined
}

const write = (message: Message, envelope: Envelope): void => {
  writer.reset()
  const keys = Object.keys(message)
  writer.mapHeader(keys.length + 1 + (envelope.expiresAt === undefined ? 0 : 1))
  for (const key of keys) {
    writer.string(key)
    writer.value(message[key])
  }
  if (envelope.channel !== undefined) {
    writer.string(CHANNEL_KEY)
    writer.string(envelope.channel)
  } else {
    writer.string(GROUP_KEY)
    writer.string(envelope.group)
  }
  if (envelope.expiresAt !== undefined) {
    writer.string(EXPIRES_KEY)
    writer.number(envelope.expiresAt)
  }
}

/**
 * Encodes a validated message followed by `trailing` top-level entries, in their order, for a
 * transport whose envelope is not an `Envelope` (channels_redis writes no key for a send to a
 * normal channel and a list of channel names for a group send). The keys of `trailing` must not be
 * keys of the message.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeWith = (
  message: Message,
  trailing: ReadonlyArray<readonly [key: string, value: MessageValue]>
): Uint8Array => {
  writer.reset()
  const keys = Object.keys(message)
  writer.mapHeader(keys.length + trailing.length)
  for (const key of keys) {
    writer.string(key)
    writer.value(message[key])
  }
  for (const [key, value] of trailing) {
    writer.string(key)
    writer.value(value)
  }
  return writer.finish()
}

/**
 * Decodes a body that is a msgpack map with string keys and a string `type`, taking the top-level
 * entries named in `aside` out of the message and returning them apart, for a transport whose
 * envelope is not an `Envelope`. It refuses what `decode` refuses, except that it checks no
 * envelope key; decoding never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeSettingAside = (
  bytes: Uint8Array,
  aside: ReadonlyArray<string>
): Either.Either<
  { readonly message: Message; readonly aside: Readonly<Record<string, MessageValue>> },
  MessageDecodeError
> => {
  const setAside: Record<string, MessageValue> = {}
  return Either.map(
    readMessage(bytes, (key, value) => {
      if (!aside.includes(key)) return false
      setAside[key] = value as MessageValue
      return true
    }),
    (message) => ({ message, aside: setAside })
  )
}

/**
 * Reads a msgpack map with string keys and a string `type`, handing each top-level entry to
 * `setAside` first: the entries it takes (`true`) stay out of the message. Never throws.
 */
const readMessage = (
  bytes: Uint8Array,
  setAside: (key: string, value: unknown) => boolean
): Either.Either<Message, MessageDecodeError> => {
  let message: Record<string, unknown> | undefined
  try {
    const reader = new Reader(bytes)
    message = reader.mapSettingAside(setAside)
    if (!reader.atEnd) return fail("trailing bytes after the msgpack value")
  } catch (error) {
    if (error instanceof MsgpackError) return fail(`not valid msgpack: ${error.message}`)
    return fail("not valid msgpack", error)
  }
  if (message === undefined) return fail("the body is not a msgpack map")
  if (typeof message.type !== "string") return fail("the message has no string \"type\"")
  return Either.right(message as Message)
}

const fail = (reason: string, cause?: unknown) =>
  Either.left(new MessageDecodeError(cause === undefined ? { reason } : { reason, cause }))

/**
 * Decodes a body. Anything that is not a msgpack map with string keys, a string `type` and exactly
 * one of the two recipient keys, or that has a string that is not well-formed UTF-8, is a
 * `MessageDecodeError`; decoding never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array): Either.Either<Decoded, MessageDecodeError> => {
  // The envelope keys are set aside while the map is read, so the message is built once.
  let channel: unknown = undefined
  let group: unknown = undefined
  let expiresAt: unknown = undefined
  const read = readMessage(bytes, (key, value) => {
    switch (key) {
      case CHANNEL_KEY:
        channel = value
        return true
      case GROUP_KEY:
        group = value
        return true
      case EXPIRES_KEY:
        expiresAt = value
        return true
      default:
        return false
    }
  })
  if (Either.isLeft(read)) return Either.left(read.left)
  const message = read.right
  if (expiresAt !== undefined && typeof expiresAt !== "number") return fail(`${EXPIRES_KEY} is not a number`)
  if (typeof channel === "string" && group === undefined) {
    return Either.right(
      expiresAt === undefined
        ? { message, channel }
        : { message, channel, expiresAt }
    )
  }
  if (typeof group === "string" && channel === undefined) {
    return Either.right(
      expiresAt === undefined
        ? { message, group }
        : { message, group, expiresAt }
    )
  }
  return fail(`the body needs exactly one string ${CHANNEL_KEY} or ${GROUP_KEY}`)
}
