/**
 * channels_redis's stored form of a message, a placeholder until the shared `WireFormat` module
 * (with Fernet encryption) replaces it: 12 random bytes (they make every member of a channel's
 * sorted set distinct, even for equal messages), then msgpack of the message with
 * `__asgi_channel__`: the channel name for a direct send to a process-local channel, or the list
 * of the recipients stored at that key for a group send.
 *
 * Core encodes the bodies (`Codec.encode`, the envelope key last); this module only adds the
 * random bytes, turns a group body's trailing `__asgi_group__` entry into the members' list, and
 * reads a stored member back.
 */
import { Codec, Errors, type Message } from "@channel-layer/core"
import { MsgpackError, Reader } from "@channel-layer/core/internal/msgpack"
import { Either } from "effect"
import { randomFillSync } from "node:crypto"

/** The random bytes before the msgpack body. */
export const RANDOM_PREFIX = 12

/** A stored member: the random bytes, then the body. */
export const wrap = (body: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(RANDOM_PREFIX + body.byteLength)
  randomFillSync(out, 0, RANDOM_PREFIX)
  out.set(body, RANDOM_PREFIX)
  return out
}

const ascii = new TextEncoder()

/** The msgpack encoding of a string. */
const str = (value: string): Uint8Array => {
  const bytes = ascii.encode(value)
  const head = bytes.length < 32
    ? [0xa0 | bytes.length]
    : bytes.length < 256
    ? [0xd9, bytes.length]
    : [0xda, bytes.length >> 8, bytes.length & 0xff]
  const out = new Uint8Array(head.length + bytes.length)
  out.set(head)
  out.set(bytes, head.length)
  return out
}

const arrayHead = (length: number): Uint8Array =>
  length < 16
    ? Uint8Array.of(0x90 | length)
    : length < 65536
    ? Uint8Array.of(0xdc, length >> 8, length & 0xff)
    : Uint8Array.of(0xdd, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff)

/**
 * The stored member of a group message for the recipients `channels` at one key: core's group
 * body (`Codec.encode(message, { group })`) with its last entry, `__asgi_group__: group`,
 * replaced by `__asgi_channel__: channels`; the map's entry count is unchanged.
 */
export const forMembers = (groupBody: Uint8Array, group: string, channels: ReadonlyArray<string>): Buffer => {
  const tail = str(Codec.GROUP_KEY).length + str(group).length
  const parts = [
    groupBody.subarray(0, groupBody.byteLength - tail),
    str(Codec.CHANNEL_KEY),
    arrayHead(channels.length),
    ...channels.map(str)
  ]
  const size = parts.reduce((n, part) => n + part.byteLength, 0)
  const out = Buffer.allocUnsafe(RANDOM_PREFIX + size)
  randomFillSync(out, 0, RANDOM_PREFIX)
  let at = RANDOM_PREFIX
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

/** A stored member read back: the message, and who it is for (`undefined`: the key's channel). */
export interface Opened {
  readonly message: Message.Message
  readonly channels: ReadonlyArray<string> | undefined
}

const fail = (reason: string, cause?: unknown) =>
  Either.left(new Errors.MessageDecodeError(cause === undefined ? { reason } : { reason, cause }))

/**
 * Reads a stored member: anything that is not 12 bytes and a msgpack map with a string `type`
 * and, if present, a string or list of strings `__asgi_channel__` is a `MessageDecodeError`.
 * Python's sends to a normal channel carry no `__asgi_channel__`.
 */
export const open = (stored: Uint8Array): Either.Either<Opened, Errors.MessageDecodeError> => {
  if (stored.byteLength <= RANDOM_PREFIX) return fail(`shorter than the ${RANDOM_PREFIX} random bytes and a body`)
  let channel: unknown = undefined
  let message: Record<string, unknown> | undefined
  try {
    const reader = new Reader(stored.subarray(RANDOM_PREFIX))
    message = reader.mapSettingAside((key, value) => {
      if (key === Codec.CHANNEL_KEY) {
        channel = value
        return true
      }
      return key === Codec.GROUP_KEY || key === Codec.EXPIRES_KEY
    })
    if (!reader.atEnd) return fail("trailing bytes after the msgpack value")
  } catch (error) {
    return fail(error instanceof MsgpackError ? `not valid msgpack: ${error.message}` : "not valid msgpack", error)
  }
  if (message === undefined) return fail("the body is not a msgpack map")
  if (typeof message.type !== "string") return fail("the message has no string \"type\"")
  if (channel === undefined) return Either.right({ message: message as Message.Message, channels: undefined })
  if (typeof channel === "string") return Either.right({ message: message as Message.Message, channels: [channel] })
  if (Array.isArray(channel) && channel.every((c) => typeof c === "string")) {
    return Either.right({ message: message as Message.Message, channels: channel as Array<string> })
  }
  return fail(`${Codec.CHANNEL_KEY} is neither a string nor a list of strings`)
}
