/**
 * The layer's side of `WireFormat`: core hands the backend bodies it encoded with its own envelope
 * (`__asgi_channel__: channel` or `__asgi_group__: group`, written last); this module turns them into
 * the members channels_redis stores (12 random bytes, then the body or its Fernet token), and reads
 * members back, counting and logging what it cannot read instead of failing.
 *
 * Envelopes as channels_redis writes them: a send to a process-specific channel keeps
 * `__asgi_channel__: channel`; a send to a normal channel has none; a group send has, per Redis key,
 * the list of the group's channels stored there.
 */
import type { Backend, Message } from "@channel-layer/core"
import type { MetricLabel } from "effect"
import { Either, LogLevel, Redacted } from "effect"
import * as RedisMetrics from "../RedisMetrics.js"
import { deriveKeys, type FernetKey } from "./Fernet.js"
import type { Resolved } from "./options.js"
import { isProcessSpecific } from "./Sharding.js"
import * as WireFormat from "./WireFormat.js"

/** A stored member read back: the message, and who it is for (`undefined`: the key's channel). */
export interface Opened {
  readonly message: Message.Message
  readonly channels: ReadonlyArray<string> | undefined
}

/** Sealing and opening members with the layer's keys. */
export interface Envelope {
  /** Whether members are Fernet tokens (`symmetricEncryptionKeys` given). */
  readonly encrypted: boolean
  /** The member for a direct send of core's body to `channel`. */
  readonly direct: (channel: string, body: Uint8Array) => Buffer
  /** The members of a group send of core's body, one per list of channels sharing a Redis key. */
  readonly group: (
    group: string,
    body: Uint8Array,
    lists: ReadonlyArray<ReadonlyArray<string>>
  ) => ReadonlyArray<Buffer>
  /**
   * Reads a member popped from `key`; `undefined` when it does not read (a token none of the keys
   * opens, or an expired one: counted as undecryptable; anything else: counted as skipped), logged
   * either way, naming the key.
   */
  readonly open: (key: string, member: Uint8Array) => Opened | undefined
}

const undecryptable = {
  key: "undecryptable",
  level: LogLevel.Warning,
  render: (total: number, top: string) =>
    `dropped ${total} stored message(s) that none of the symmetricEncryptionKeys opens (sealed with another ` +
    `key, tampered with, or older than expiry + ${WireFormat.TOKEN_TTL_MARGIN} s), by Redis key: ${top}`
}

const unreadable = {
  key: "skipped",
  render: (total: number, top: string) =>
    `dropped ${total} stored message(s) that are not channel-layer messages or are for another process: ${top}`
}

/** A view of the bytes as a Buffer (what the Redis client writes), without a copy. */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** The envelope of a layer with these options, counting and logging through `context`. */
export const make = (
  options: Resolved,
  context: { readonly warnings: Backend.Context["warnings"]; readonly labels: ReadonlyArray<MetricLabel.MetricLabel> }
): Envelope => {
  const keys: ReadonlyArray<FernetKey> = deriveKeys(options.symmetricEncryptionKeys.map(Redacted.value))
  const sealing = { keys }
  const opening = { keys, ttl: options.expiry / 1000 + WireFormat.TOKEN_TTL_MARGIN }
  return {
    encrypted: keys.length > 0,
    direct: (channel, body) =>
      isProcessSpecific(channel)
        // Core's body is channels_redis's already: the message, then `__asgi_channel__: channel`.
        ? asBuffer(WireFormat.seal(body, sealing))
        : asBuffer(
          WireFormat.seal(WireFormat.bodyOf(WireFormat.entriesOfCoreBody(body, { channel }), undefined), sealing)
        ),
    group: (group, body, lists) => {
      const entries = WireFormat.entriesOfCoreBody(body, { group })
      return lists.map((list) => asBuffer(WireFormat.seal(WireFormat.bodyOf(entries, list), sealing)))
    },
    open: (key, member) => {
      const read = WireFormat.deserialize(member, opening)
      if (Either.isRight(read)) {
        const envelope = read.right.asgiChannel
        return {
          message: read.right.message,
          channels: envelope === undefined ? undefined : typeof envelope === "string" ? [envelope] : envelope
        }
      }
      if (read.left.cause?._tag === "InvalidToken") {
        RedisMetrics.undecryptableMessages.unsafeUpdate(1, context.labels)
        context.warnings.report(undecryptable, key)
      } else {
        RedisMetrics.skippedMessages.unsafeUpdate(1, context.labels)
        context.warnings.report(unreadable, `${key} (${read.left.reason})`)
      }
      return undefined
    }
  }
}

/**
 * A stored member of an unencrypted layer for a body as it is (12 random bytes, then the body):
 * for tests that write members by hand.
 */
export const wrap = (body: Uint8Array): Buffer => asBuffer(WireFormat.seal(body))
