import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { randomUUID } from "node:crypto"
import { deriveKeys } from "../../src/internal/Fernet.js"
import { groupShardIndex, pythonSendShardIndex, receiveShardIndex } from "../../src/internal/Sharding.js"
import { channelKey, deserialize, groupKey, PREFIX_LENGTH } from "../../src/internal/WireFormat.js"
import { ALL_TYPES } from "./AllTypes.js"
import * as Peer from "./Peer.js"
import { missingPython, missingRedis, REDIS_URL, skipNote } from "./python.js"

/** A peer under a prefix of its own, flushed when the test ends. */
const peer = (prefix: string, options: Omit<Peer.PeerOptions, "hosts" | "prefix"> = {}) =>
  Effect.tap(
    Peer.make({ hosts: [REDIS_URL], prefix, ...options }),
    (python) => Effect.addFinalizer(() => Effect.ignore(python.flush))
  )

const uniquePrefix = () => `peer-test-${randomUUID().slice(0, 8)}.`

const missing = missingPython(["channels_redis", "cryptography", "msgpack"]) ?? missingRedis()

describe.skipIf(missing !== undefined)(`Python peer (peer.py) against Redis${skipNote(missing)}`, () => {
  it.scoped("sends and receives between two Python layers, every msgpack type intact", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const a = yield* peer(prefix)
      const b = yield* peer(prefix)
      const channel = yield* a.newChannel()
      expect(channel).toMatch(new RegExp(`^specific\\.${a.clientPrefix}![0-9a-f]{32}$`))
      yield* b.send(channel, ALL_TYPES)
      expect(yield* a.receive(channel, 5)).toEqual(ALL_TYPES)
      // A normal channel, and a message without "type" (the Python layer does not need one).
      yield* b.send("peer.normal", { text: "no type" })
      expect(yield* a.receive("peer.normal", 5)).toEqual({ text: "no type" })
      // A receive that gets nothing is a typed Timeout.
      const nothing = yield* Effect.flip(a.receive(channel, 0.2))
      expect(nothing).toMatchObject({ _tag: "PeerError", op: "receive", type: "Timeout" })
    }))

  it.scoped("group_add, group_send, group_discard across layers", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const a = yield* peer(prefix)
      const b = yield* peer(prefix)
      const [a1, a2, b1] = [yield* a.newChannel(), yield* a.newChannel(), yield* b.newChannel()]
      for (const channel of [a1, a2, b1, "peer.member"]) yield* a.groupAdd("room", channel)
      const dump = yield* a.dump
      expect(dump.get(groupKey(prefix, "room"))?.map(([m]) => Buffer.from(m).toString("utf8"))).toEqual([
        a1,
        a2,
        b1,
        "peer.member"
      ])
      yield* b.groupSend("room", { type: "hello", n: 1 })
      expect(yield* a.receive(a1, 5)).toEqual({ type: "hello", n: 1 })
      expect(yield* a.receive(a2, 5)).toEqual({ type: "hello", n: 1 })
      expect(yield* b.receive(b1, 5)).toEqual({ type: "hello", n: 1 })
      expect(yield* b.receive("peer.member", 5)).toEqual({ type: "hello", n: 1 })
      yield* a.groupDiscard("room", a2)
      yield* b.groupSend("room", { type: "hello", n: 2 })
      expect(yield* a.receive(a1, 5)).toEqual({ type: "hello", n: 2 })
      expect(yield* Effect.flip(a.receive(a2, 0.3))).toMatchObject({ type: "Timeout" })
    }))

  it.scoped("raises ChannelFull when a channel holds capacity messages", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const python = yield* peer(prefix, { capacity: 2 })
      yield* python.send("peer.full", { type: "one" })
      yield* python.send("peer.full", { type: "two" })
      const full = yield* Effect.flip(python.send("peer.full", { type: "three" }))
      expect(full).toMatchObject({ _tag: "PeerError", op: "send", type: "ChannelFull" })
      // channel_capacity overrides it per channel name.
      const roomy = yield* peer(prefix, { capacity: 2, channelCapacity: { "peer.roomy": 3 } })
      for (const type of ["one", "two", "three"]) yield* roomy.send("peer.roomy", { type })
      expect(yield* Effect.flip(roomy.send("peer.roomy", { type: "four" }))).toMatchObject({ type: "ChannelFull" })
      expect(yield* python.receive("peer.full", 5)).toEqual({ type: "one" })
    }))

  it.scoped("encrypts with symmetric_encryption_keys: Python opens it, our WireFormat opens it, wrong keys do not", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const secrets = ["peer secret", "old secret"]
      const a = yield* peer(prefix, { symmetricEncryptionKeys: secrets })
      const b = yield* peer(prefix, { symmetricEncryptionKeys: [secrets[1], secrets[0]] })
      const stranger = yield* peer(prefix, { symmetricEncryptionKeys: ["someone else"] })
      const channel = yield* a.newChannel()
      yield* b.send(channel, ALL_TYPES)
      // What lies in Redis: 12 bytes, then a Fernet token (ASCII), which our WireFormat opens.
      const members = (yield* a.dump).get(channelKey(prefix, channel)) ?? []
      expect(members).toHaveLength(1)
      const [member] = members[0]
      expect(Buffer.from(member.subarray(PREFIX_LENGTH, PREFIX_LENGTH + 4)).toString("ascii")).toBe("gAAA")
      const received = Either.getOrThrow(deserialize(member, { keys: deriveKeys(secrets), ttl: 70 }))
      expect(received).toEqual({ message: ALL_TYPES, asgiChannel: channel })
      expect(yield* a.receive(channel, 5)).toEqual(ALL_TYPES)
      // Sealed with a key the receiver does not hold: its receive raises InvalidToken.
      const strangers = yield* stranger.newChannel()
      yield* a.send(strangers, { type: "secret" })
      expect(yield* Effect.flip(stranger.receive(strangers, 5))).toMatchObject({ type: "InvalidToken" })
    }))

  it.scoped("shards over two hosts as Sharding says, including the send/receive mismatch of channels_redis", () =>
    Effect.gen(function*() {
      // Two databases of one Redis stand for two hosts: channels_redis only sees two URLs.
      const hosts = [REDIS_URL.replace(/\/\d*$/, "") + "/1", REDIS_URL.replace(/\/\d*$/, "") + "/2"]
      const prefix = uniquePrefix()
      const make = () =>
        Effect.tap(
          Peer.make({ hosts, prefix }),
          (python) => Effect.addFinalizer(() => Effect.ignore(python.flush))
        )
      const a = yield* make()
      const b = yield* make()
      const where = (dump: ReadonlyArray<Peer.Dump>, key: string) =>
        dump.flatMap((host, index) => host.has(key) ? [index] : [])

      // Channels of `a` until one whose full name and non-local part hash to different hosts, and one
      // where they agree (each is a coin toss with two hosts).
      let split: string | undefined
      let agreed: string | undefined
      while (split === undefined || agreed === undefined) {
        const channel = yield* a.newChannel()
        if (pythonSendShardIndex(channel, 2) === receiveShardIndex(channel, 2)) agreed ??= channel
        else split ??= channel
      }
      yield* b.send(agreed, { type: "agreed" })
      yield* b.send(split, { type: "split" })
      const afterSends = yield* a.dumpHosts
      const key = channelKey(prefix, split)
      expect(key).toBe(channelKey(prefix, agreed))
      // Both messages sit under the same key name, each on the host of its FULL name's hash ...
      expect(where(afterSends, key).sort()).toEqual([0, 1])
      expect(afterSends[pythonSendShardIndex(split, 2)!].get(key)).toHaveLength(1)
      // ... and the receiver polls the host of the non-local part only: one arrives, one never does.
      expect(yield* a.receive(agreed, 5)).toEqual({ type: "agreed" })
      expect(yield* Effect.flip(a.receive(split, 1))).toMatchObject({ type: "Timeout" })

      // Groups: the sorted set on the group's host; group_send writes where receive reads.
      yield* a.groupAdd("sharded-room", split)
      expect(where(yield* a.dumpHosts, groupKey(prefix, "sharded-room"))).toEqual([groupShardIndex("sharded-room", 2)])
      yield* b.groupSend("sharded-room", { type: "via group" })
      expect(yield* a.receive(split, 5)).toEqual({ type: "via group" })
    }))

  it.scoped("reports a peer that cannot start as PeerCrashed, with its stderr", () =>
    Effect.gen(function*() {
      // channels_redis refuses a single string for hosts: RedisChannelLayer() raises, the peer exits.
      const crashed = yield* Effect.flip(Peer.make({ hosts: REDIS_URL as never }))
      expect(crashed._tag).toBe("PeerCrashed")
      expect(crashed.stderr).toContain("You must pass a list of Redis hosts")
    }))
})
