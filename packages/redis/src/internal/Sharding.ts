/**
 * Which Redis host (shard) a key lives on, exactly as Python's channels_redis 4.x picks it.
 *
 * The hash (channels_redis `utils._consistent_hash`): with one host, always 0; otherwise the CRC-32
 * of the UTF-8 of the name, masked to its low 12 bits (0..4095), divided by `4096 / hosts` (a float
 * division) and truncated. It is a fixed-slice ring, not a modulo: 2 hosts split 0..2047 / 2048..4095.
 *
 * Which string is hashed depends on the operation (channels_redis 4.0 `core.py`):
 *
 * | operation                                   | host index                                   |
 * | ------------------------------------------- | -------------------------------------------- |
 * | group_add / group_discard / group_send      | `hash(group)`: the group's sorted set        |
 * | group_send, per member channel              | `hash(nonLocalName(channel))`                |
 * | receive on a process-specific channel       | `hash(nonLocalName(channel))`                |
 * | send to a process-specific channel          | `hash(channel)`: the FULL name (see below)   |
 * | send / receive on a normal channel          | round robin over the hosts, per layer object |
 *
 * The send row is a long-standing channels_redis bug (django/channels#1492, 2020, still so in the
 * upstream source of 2025): `send` hashes the full
 * name while `receive` polls the host of the non-local part, so with more than one host a direct
 * send to a process-specific channel lands on a host its receiver never reads unless both hashes
 * agree. `group_send` agrees with `receive`. A transport that wants to talk to Python receivers with
 * several hosts must use `receiveShardIndex` for sends (what the receiver reads), and should know
 * that Python senders use `pythonSendShardIndex`.
 *
 * @since 0.1.0
 */

/** The CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) table, as zlib and Python's binascii use. */
const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/**
 * The CRC-32 of some bytes, as an unsigned 32-bit number (Python's `binascii.crc32`).
 *
 * @since 0.1.0
 */
export const crc32 = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const utf8 = new TextEncoder()

/**
 * channels_redis's consistent hash: the index in `0 .. hosts - 1` of the host for `value` (a
 * string is hashed as its UTF-8). `hosts` must be a positive whole number.
 *
 * @since 0.1.0
 */
export const consistentHash = (value: string | Uint8Array, hosts: number): number => {
  if (!Number.isSafeInteger(hosts) || hosts < 1) throw new RangeError(`hosts must be a positive integer, not ${hosts}`)
  if (hosts === 1) return 0
  const bytes = typeof value === "string" ? utf8.encode(value) : value
  const slot = crc32(bytes) & 0xfff
  // Python: int(slot / (4096 / float(hosts))), both divisions in doubles, truncated.
  return Math.trunc(slot / (4096 / hosts))
}

/**
 * The part of a channel name up to and including its first `!`, or the whole name when it has none
 * (Django Channels' `non_local_name`). All process-specific channels of one layer share this
 * part, and so one Redis key: `prefix + nonLocalName(channel)`.
 *
 * @since 0.1.0
 */
export const nonLocalName = (channel: string): string => {
  const bang = channel.indexOf("!")
  return bang === -1 ? channel : channel.slice(0, bang + 1)
}

/**
 * Whether a channel name is process-specific (has a `!`).
 *
 * @since 0.1.0
 */
export const isProcessSpecific = (channel: string): boolean => channel.includes("!")

/**
 * The host of a group's sorted set (`group_add`, `group_discard`, `group_send`).
 *
 * @since 0.1.0
 */
export const groupShardIndex = (group: string, hosts: number): number => consistentHash(group, hosts)

/**
 * The host a process-specific channel's messages are read from (`receive`), and the one
 * `group_send` writes a member channel's message to: the hash of its non-local part.
 * `undefined` for a normal channel, whose host is picked round robin.
 *
 * @since 0.1.0
 */
export const receiveShardIndex = (channel: string, hosts: number): number | undefined =>
  isProcessSpecific(channel) ? consistentHash(nonLocalName(channel), hosts) : undefined

/**
 * The host Python's `send` writes a process-specific channel's message to: the hash of the full
 * name (the bug described above; equal to `receiveShardIndex` with one host). `undefined` for a
 * normal channel, whose host is picked round robin.
 *
 * @since 0.1.0
 */
export const pythonSendShardIndex = (channel: string, hosts: number): number | undefined =>
  isProcessSpecific(channel) ? consistentHash(channel, hosts) : undefined
