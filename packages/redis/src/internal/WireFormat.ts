/**
 * The bytes channels_redis 4.x stores in Redis, and the names it stores them under.
 *
 * A message is one member of a sorted set (scored with the send time in float seconds):
 *
 *     member = 12 random bytes | body            (no encryption)
 *     member = 12 random bytes | Fernet token    (symmetric_encryption_keys; the token is ASCII)
 *     body   = msgpack of the message (Python `msgpack.packb(message, use_bin_type=True)`)
 *
 * The random prefix is added last, outside the encryption: it only keeps equal messages apart in the
 * sorted set. The receiver drops the first 12 bytes, opens the token (time to live `expiry + 10`
 * seconds) and unpacks with `raw=False`. This is channels_redis 4.0 (Debian's, read for this
 * module); 4.2 moved it into `serializers.py` unchanged, and added two options: `random_prefix_length`
 * (default 12; `prefixLength` here, 0 for none) and `serializer_format="json"` (not supported here).
 *
 * The body carries one envelope key, `__asgi_channel__`, written after the message's own keys:
 *
 * | written by                              | `__asgi_channel__`                                         |
 * | --------------------------------------- | ---------------------------------------------------------- |
 * | `send` to a normal channel              | absent                                                     |
 * | `send` to a process-specific channel    | the full channel name, a string                            |
 * | `group_send`, to every member channel   | a list of strings: every member channel of the group that  |
 * |                                         | shares this Redis key (one for a normal channel, all the   |
 * |                                         | group's channels of one `prefix!` for process-specific),   |
 * |                                         | in the order of the group's sorted set                     |
 *
 * Receiving (`receive_single`), the key is removed from the message whatever its form. On a normal
 * channel it is then ignored. On a process-specific channel (read from the shared key
 * `prefix + nonLocalName`), a string names the one local channel to deliver to, a list every local
 * channel to deliver a copy to, and no key at all delivers to a buffer named after the non-local
 * part, which no receiver awaits (such a message is lost). `recipients` says which.
 *
 * Redis keys: a channel's messages live under `prefix + nonLocalName(channel)` (so one key for all
 * the process-specific channels of one layer and channel-name prefix), a group's members under
 * `prefix + ":group:" + group` (a sorted set of channel names scored by the time they were added),
 * and messages being received under the channel key plus `$inflight`.
 *
 * Python and JavaScript disagree on two things a body can say, so a body read and written again is
 * not always the same bytes: a float with a whole value in the safe integer range (`2.0`) reads as
 * the number 2 and is written back as an int, and a map's integer-like keys ("1", "42") come first,
 * in ascending order, in a JavaScript object, wherever they were in the map.
 *
 * @since 0.1.0
 */
import * as Codec from "@channel-layer/core/Codec"
import type { MessageDecodeError } from "@channel-layer/core/Errors"
import type { Message, MessageValue } from "@channel-layer/core/Message"
import { Data, Either } from "effect"
import { randomBytes } from "node:crypto"
import { decrypt, encrypt, type FernetKey, type InvalidToken } from "./Fernet.js"
import { isProcessSpecific, nonLocalName } from "./Sharding.js"

/**
 * How many random bytes come before the body of every member.
 *
 * @since 0.1.0
 * @category constants
 */
export const PREFIX_LENGTH = 12

/**
 * The envelope key of channels_redis.
 *
 * @since 0.1.0
 * @category constants
 */
export const CHANNEL_KEY = "__asgi_channel__"

/**
 * How many seconds a token may be older than the layer's expiry and still open (channels_redis opens
 * with a time to live of `expiry + 10`).
 *
 * @since 0.1.0
 * @category constants
 */
export const TOKEN_TTL_MARGIN = 10

/**
 * What a body's `__asgi_channel__` says: nothing (a send to a normal channel), the full name of a
 * process-specific channel (a send to it), or the member channels sharing one Redis key (a group
 * send).
 *
 * @since 0.1.0
 * @category models
 */
export type AsgiChannel = undefined | string | ReadonlyArray<string>

/**
 * A member read back: the message without its envelope key, and the key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Received {
  readonly message: Message
  readonly asgiChannel: AsgiChannel
}

/**
 * A member that does not read: shorter than its prefix, a token that does not open, a body that is
 * not a message, or an `__asgi_channel__` that is neither a string nor a list of strings.
 *
 * @since 0.1.0
 * @category errors
 */
export class WireFormatError extends Data.TaggedError("WireFormatError")<{
  readonly reason: string
  readonly cause?: InvalidToken | MessageDecodeError
}> {
  override get message(): string {
    return `unreadable channels_redis message: ${this.reason}`
  }
}

/**
 * The `__asgi_channel__` a send to `channel` writes: the full name for a process-specific channel,
 * none for a normal one.
 *
 * @since 0.1.0
 * @category encoding
 */
export const sendEnvelope = (channel: string): AsgiChannel => isProcessSpecific(channel) ? channel : undefined

/**
 * The msgpack body channels_redis writes for a message and envelope: the message's keys in their
 * order, then `__asgi_channel__` when there is one.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeBody = (message: Message, asgiChannel: AsgiChannel): Uint8Array =>
  Codec.encodeWith(
    message,
    asgiChannel === undefined
      ? []
      : [[CHANNEL_KEY, typeof asgiChannel === "string" ? asgiChannel : [...asgiChannel]]]
  )

/** The msgpack map header for `count` entries. */
const mapHeader = (count: number): Uint8Array =>
  count < 16
    ? Uint8Array.of(0x80 | count)
    : count < 0x10000
    ? Uint8Array.of(0xde, count >>> 8, count & 0xff)
    : Uint8Array.of(0xdf, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff)

const NO_KEYS = {} as Message

/**
 * A message's map entries, encoded, and how many there are: a body without its map header, to which
 * an envelope entry is added per recipient list.
 *
 * @since 0.1.0
 * @category encoding
 */
export interface Entries {
  readonly count: number
  readonly bytes: Uint8Array
}

/** The length of a msgpack map header from its first byte (fixmap, map16, map32), or -1. */
const mapHeaderLength = (first: number): number =>
  (first & 0xf0) === 0x80 ? 1 : first === 0xde ? 3 : first === 0xdf ? 5 : -1

/** The entry count of a map header starting at `bytes[0]`. */
const mapCount = (bytes: Uint8Array): number =>
  bytes[0] === 0xde
    ? (bytes[1] << 8) | bytes[2]
    : bytes[0] === 0xdf
    ? ((bytes[1] << 24) >>> 0) + (bytes[2] << 16) + (bytes[3] << 8) + bytes[4]
    : bytes[0] & 0x0f

/** The encoded entry `key: value`, a string key and string value (without a map header). */
const stringEntry = (key: string, value: string): Uint8Array => Codec.encodeWith(NO_KEYS, [[key, value]]).subarray(1)

/**
 * The message's entries of a body core encoded (`Codec.encode(message, { channel })` or
 * `{ group }`): core writes the envelope entry last, so it is the body without its header and
 * without the trailing `key: name` entry. Throws a `RangeError` for a body that is not such a map
 * (a bug, not a message problem: core made it).
 *
 * @since 0.1.0
 * @category encoding
 */
export const entriesOfCoreBody = (
  body: Uint8Array,
  envelope: { readonly channel: string } | { readonly group: string }
): Entries => {
  const header = body.length === 0 ? -1 : mapHeaderLength(body[0])
  const tail = "channel" in envelope
    ? stringEntry(Codec.CHANNEL_KEY, envelope.channel)
    : stringEntry(Codec.GROUP_KEY, envelope.group)
  const count = header === -1 ? 0 : mapCount(body)
  const end = body.length - tail.length
  if (header === -1 || count === 0 || end < header) {
    throw new RangeError("not a body core encoded: a msgpack map whose last entry is the envelope")
  }
  for (let i = 0; i < tail.length; i++) {
    if (body[end + i] !== tail[i]) throw new RangeError("the body core encoded does not end with its envelope")
  }
  return { count: count - 1, bytes: body.subarray(header, end) }
}

/**
 * The entries of a message, encoded once.
 *
 * @since 0.1.0
 * @category encoding
 */
export const entriesOf = (message: Message): Entries => {
  const base = Codec.encodeWith(message, [])
  return { count: Object.keys(message).length, bytes: base.subarray(mapHeaderLength(base[0])) }
}

/**
 * The body of the entries and envelope: the same bytes as `encodeBody(message, asgiChannel)`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const bodyOf = (entries: Entries, asgiChannel: AsgiChannel): Uint8Array => {
  if (asgiChannel === undefined) {
    const header = mapHeader(entries.count)
    const body = new Uint8Array(header.length + entries.bytes.length)
    body.set(header, 0)
    body.set(entries.bytes, header.length)
    return body
  }
  // A one-entry map holding just the envelope, without its header byte: the envelope's entry.
  const tail = Codec.encodeWith(
    NO_KEYS,
    [[CHANNEL_KEY, typeof asgiChannel === "string" ? asgiChannel : [...asgiChannel]]]
  ).subarray(1)
  const header = mapHeader(entries.count + 1)
  const body = new Uint8Array(header.length + entries.bytes.length + tail.length)
  body.set(header, 0)
  body.set(entries.bytes, header.length)
  body.set(tail, header.length + entries.bytes.length)
  return body
}

/**
 * The bodies of one group send, one per list of member channels (one list per Redis key, see
 * `groupSendEnvelopes`): the same bytes as `encodeBody(message, list)` for each, with the message
 * encoded once and only the map header and the trailing `__asgi_channel__` written per list.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeGroupBodies = (
  message: Message,
  lists: ReadonlyArray<ReadonlyArray<string>>
): ReadonlyArray<Uint8Array> => {
  if (lists.length === 0) return []
  const entries = entriesOf(message)
  return lists.map((list) => bodyOf(entries, list))
}

/**
 * A sorted-set member for a body (see `encodeBody`): the random prefix, then the body, or its Fernet
 * token made with the first of `keys` when there are keys.
 *
 * @since 0.1.0
 * @category encoding
 */
export const seal = (
  body: Uint8Array,
  options?: {
    readonly keys?: ReadonlyArray<FernetKey> | undefined
    readonly prefixLength?: number
    readonly prefix?: Uint8Array
    readonly now?: number
  }
): Uint8Array => {
  const length = options?.prefixLength ?? PREFIX_LENGTH
  const prefix = options?.prefix ?? randomBytes(length)
  if (prefix.length !== length) throw new RangeError(`the prefix must be ${length} bytes, not ${prefix.length}`)
  const keys = options?.keys
  const payload = keys !== undefined && keys.length > 0
    ? encrypt(keys[0], body, options?.now === undefined ? undefined : { now: options.now })
    : body
  const member = new Uint8Array(length + payload.length)
  member.set(prefix, 0)
  member.set(payload, length)
  return member
}

/**
 * A sorted-set member for a message: the random prefix, then the body, or its Fernet token made with
 * the first of `keys` when there are keys. `prefix` (the random bytes) and `now` (the token's time,
 * whole seconds) are for tests.
 *
 * @since 0.1.0
 * @category encoding
 */
export const serialize = (
  message: Message,
  asgiChannel: AsgiChannel,
  options?: {
    readonly keys?: ReadonlyArray<FernetKey> | undefined
    /** How many random bytes (channels_redis's `random_prefix_length`), 12 unless given. */
    readonly prefixLength?: number
    readonly prefix?: Uint8Array
    readonly now?: number
  }
): Uint8Array => seal(encodeBody(message, asgiChannel), options)

const failure = (reason: string, cause?: InvalidToken | MessageDecodeError) =>
  Either.left(new WireFormatError(cause === undefined ? { reason } : { reason, cause }))

/**
 * Reads a sorted-set member: drops the prefix, opens the token with any of `keys` when there are
 * keys (with `ttl`, channels_redis's `expiry + TOKEN_TTL_MARGIN`, when given), and decodes the body,
 * setting `__asgi_channel__` apart.
 *
 * @since 0.1.0
 * @category decoding
 */
export const deserialize = (
  member: Uint8Array,
  options?: {
    readonly keys?: ReadonlyArray<FernetKey> | undefined
    readonly ttl?: number | undefined
    /** How many random bytes come first (channels_redis's `random_prefix_length`), 12 unless given. */
    readonly prefixLength?: number
    readonly now?: number
  }
): Either.Either<Received, WireFormatError> => {
  const length = options?.prefixLength ?? PREFIX_LENGTH
  if (member.length < length) {
    return failure(`${member.length} bytes, shorter than the ${length}-byte prefix`)
  }
  let body = member.subarray(length)
  const keys = options?.keys
  if (keys !== undefined && keys.length > 0) {
    const opened = decrypt(
      keys,
      body,
      options?.now === undefined ? { ttl: options?.ttl } : { ttl: options?.ttl, now: options.now }
    )
    if (Either.isLeft(opened)) return failure(opened.left.message, opened.left)
    body = opened.right
  }
  const decoded = Codec.decodeSettingAside(body, [CHANNEL_KEY])
  if (Either.isLeft(decoded)) return failure(decoded.left.reason, decoded.left)
  const envelope: MessageValue | undefined = decoded.right.aside[CHANNEL_KEY]
  if (envelope === undefined || typeof envelope === "string") {
    return Either.right({ message: decoded.right.message, asgiChannel: envelope })
  }
  if (Array.isArray(envelope) && envelope.every((name): name is string => typeof name === "string")) {
    return Either.right({ message: decoded.right.message, asgiChannel: envelope as ReadonlyArray<string> })
  }
  return failure(`${CHANNEL_KEY} is neither a string nor a list of strings`)
}

/**
 * The channels a received message is for, as channels_redis's `receive` hands it out, given the
 * channel it was read for: that channel itself for a normal channel (the envelope is ignored), and
 * for the shared key of process-specific channels the envelope's channel or channels, or none when
 * there is no envelope (Python buffers it under the non-local name, where nobody reads it).
 *
 * @since 0.1.0
 * @category decoding
 */
export const recipients = (received: Received, readFor: string): ReadonlyArray<string> => {
  if (!isProcessSpecific(readFor)) return [readFor]
  const envelope = received.asgiChannel
  return envelope === undefined ? [] : typeof envelope === "string" ? [envelope] : envelope
}

/**
 * The Redis key of a channel's messages: the prefix and the channel's non-local part.
 *
 * @since 0.1.0
 * @category keys
 */
export const channelKey = (prefix: string, channel: string): string => prefix + nonLocalName(channel)

/**
 * The Redis key of a group's sorted set of member channels.
 *
 * @since 0.1.0
 * @category keys
 */
export const groupKey = (prefix: string, group: string): string => `${prefix}:group:${group}`

/**
 * The Redis key where messages being received wait until the receiver has them.
 *
 * @since 0.1.0
 * @category keys
 */
export const inflightKey = (channelKey: string): string => `${channelKey}$inflight`

/**
 * The bodies a group send writes, one per Redis key: for each member channel (in the group's order)
 * its key collects it in the list of that key's `__asgi_channel__`. Keys come in the order of their
 * first member.
 *
 * @since 0.1.0
 * @category encoding
 */
export const groupSendEnvelopes = (
  prefix: string,
  members: ReadonlyArray<string>
): ReadonlyMap<string, ReadonlyArray<string>> => {
  const byKey = new Map<string, Array<string>>()
  for (const channel of members) {
    const key = channelKey(prefix, channel)
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [channel])
    else list.push(channel)
  }
  return byKey
}
