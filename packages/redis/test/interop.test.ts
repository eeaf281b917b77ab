/**
 * The layer against Debian's Python channels_redis (4.0) RedisChannelLayer, both ways, through one
 * real Redis (and two databases of it standing for two hosts): each test starts Python peers
 * (test/python/peer.py) and our layers under a key prefix of its own, and the peers delete every key
 * under it when the test ends.
 */
import type { ChannelLayer } from "@channel-layer/core"
import type { Message } from "@channel-layer/core/Message"
import { Redis, RedisMetrics } from "@channel-layer/redis"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Logger, Metric, Option } from "effect"
import { randomUUID } from "node:crypto"
import { deriveKeys } from "../src/internal/Fernet.js"
import { groupShardIndex, pythonSendShardIndex, receiveShardIndex } from "../src/internal/Sharding.js"
import { CHANNEL_KEY, channelKey, deserialize, groupKey, PREFIX_LENGTH } from "../src/internal/WireFormat.js"
import { ALL_TYPES } from "./python/AllTypes.js"
import * as Peer from "./python/Peer.js"
import { missingPython, missingRedis, REDIS_URL, skipNote } from "./python/python.js"

const missing = missingPython(["channels_redis", "cryptography", "msgpack"]) ?? missingRedis()

const uniquePrefix = () => `interop-${randomUUID().slice(0, 8)}.`

/** A Python layer under `prefix`; it deletes every key under the prefix (on all its hosts) at the end. */
const python = (prefix: string, options: Omit<Peer.PeerOptions, "prefix"> = {}) =>
  Effect.tap(
    Peer.make({ hosts: [REDIS_URL], prefix, ...options }),
    (peer) => Effect.addFinalizer(() => Effect.ignore(peer.flush))
  )

/** Our layer under `prefix`, closed at the end of the test (before the Python peers made earlier). */
const ours = (prefix: string, options: Redis.RedisOptions = {}) =>
  Effect.map(Redis.make({ hosts: [REDIS_URL], prefix, ...options }), (services) => services.channelLayer)

/** What our layer receives within `seconds`, if anything. */
const within = (layer: ChannelLayer.ChannelLayerService, channel: string, seconds: number) =>
  Effect.timeoutOption(layer.receive(channel), Duration.seconds(seconds))

/** Python's receive: the message, or `undefined` when nothing came within `seconds`. */
const pythonWithin = (peer: Peer.Peer, channel: string, seconds: number) =>
  peer.receive(channel, seconds).pipe(
    Effect.map((message): Peer.PeerMessage | undefined => message),
    Effect.catchIf((error) => error._tag === "PeerError" && error.type === "Timeout", () => Effect.succeed(undefined))
  )

/**
 * Python's receive on a normal channel with several hosts: channels_redis blocks on one host chosen
 * in turn and stays there, so a receive may wait on a host the message is not on; its next receive
 * tries the next host. (A receive cut short while a message is being popped on its host may lose
 * it: only used where nothing else is on the way to that host.)
 */
const pythonNormal = (peer: Peer.Peer, channel: string, hosts = 2) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < hosts; attempt++) {
      const message = yield* pythonWithin(peer, channel, 1)
      if (message !== undefined) return message
    }
    return yield* peer.receive(channel, 1)
  })

const asMessage = (message: Peer.PeerMessage): Message => message as Message

const counter = (metric: typeof RedisMetrics.undecryptableMessages) =>
  Effect.map(Metric.value(Metric.tagged(metric, "transport", "redis")), (state) => state.count)

describe.skipIf(missing !== undefined)(`interop with Python channels_redis${skipNote(missing)}`, () => {
  it.scopedLive(
    "(a) process-specific channels both ways: every msgpack type arrives exactly",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix()
        const peer = yield* python(prefix)
        const layer = yield* ours(prefix)
        // Ours to Python's channel.
        const theirs = yield* peer.newChannel()
        yield* layer.send(theirs, asMessage(ALL_TYPES))
        expect(yield* peer.receive(theirs, 5)).toEqual(ALL_TYPES)
        // Python's to ours, on channels of a custom prefix too.
        const mine = yield* layer.newChannel()
        const other = yield* layer.newChannel("websocket")
        yield* peer.send(mine, ALL_TYPES)
        yield* peer.send(other, { type: "second", n: 2 })
        expect(yield* layer.receive(mine)).toEqual(ALL_TYPES)
        expect(yield* layer.receive(other)).toEqual({ type: "second", n: 2 })
        // A dict without "type" (channels_redis sends it): dropped on receive, counted, the next one arrives.
        const skippedBefore = yield* counter(RedisMetrics.skippedMessages)
        yield* peer.send(mine, { text: "no type" })
        yield* peer.send(mine, { type: "typed" })
        expect(yield* layer.receive(mine)).toEqual({ type: "typed" })
        expect((yield* counter(RedisMetrics.skippedMessages)) - skippedBefore).toBe(1)
        // Several in a row keep their order, both ways.
        for (let n = 0; n < 20; n++) yield* peer.send(mine, { type: "seq", n })
        for (let n = 0; n < 20; n++) expect(yield* layer.receive(mine)).toEqual({ type: "seq", n })
        for (let n = 0; n < 20; n++) yield* layer.send(theirs, { type: "seq", n })
        for (let n = 0; n < 20; n++) expect(yield* peer.receive(theirs, 5)).toEqual({ type: "seq", n })
      }),
    60_000
  )

  it.scopedLive(
    "(b) normal channels both ways: workers on both sides, each message to exactly one",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix()
        const peer = yield* python(prefix)
        const layer = yield* ours(prefix)
        const otherLayer = yield* ours(prefix)
        // One way, then the other.
        yield* peer.send("jobs", { type: "job", from: "python" })
        expect(yield* layer.receive("jobs")).toEqual({ type: "job", from: "python" })
        yield* layer.send("jobs", asMessage(ALL_TYPES))
        expect(yield* peer.receive("jobs", 5)).toEqual(ALL_TYPES)

        // 40 jobs from both sides, two workers on each side: every job once, none twice. The two Python
        // workers are two receives of one Python layer: two Python processes on one normal channel
        // receive some messages twice among themselves (channels_redis 4.0 puts back every member of
        // the shared `$inflight` key before each pop, including those another process is handling).
        const total = 40
        for (let n = 0; n < total; n++) {
          yield* n % 2 === 0 ? peer.send("work", { type: "job", n }) : layer.send("work", { type: "job", n })
        }
        const got: Array<{ readonly n: number; readonly by: string }> = []
        // Python's receives are not cut short: a BZPOPMIN cancelled by a timeout may have popped a
        // message already (channels_redis loses it); they are left waiting and forgotten at the end.
        const pythonWorker = (worker: Peer.Peer) =>
          Effect.gen(function*() {
            while (true) {
              const message = yield* pythonWithin(worker, "work", 30)
              if (message !== undefined) got.push({ n: Number(message.n), by: "python" })
            }
          })
        const ourWorker = (worker: ChannelLayer.ChannelLayerService) =>
          Effect.gen(function*() {
            while (true) got.push({ n: Number((yield* worker.receive("work")).n), by: "ours" })
          })
        const fibers = [
          yield* Effect.fork(pythonWorker(peer)),
          yield* Effect.fork(pythonWorker(peer)),
          yield* Effect.fork(ourWorker(layer)),
          yield* Effect.fork(ourWorker(otherLayer))
        ]
        yield* Effect.gen(function*() {
          while (got.length < total) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout("30 seconds"))
        // Time for a duplicate to show up, if there were one.
        yield* Effect.sleep("500 millis")
        yield* Fiber.interruptAll(fibers)
        expect(got.map(({ n }) => n).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, n) => n))
        expect(new Set(got.map(({ by }) => by))).toEqual(new Set(["python", "ours"]))
      }),
    60_000
  )

  it.scopedLive(
    "(c) mixed groups: group_send from each side reaches both sides' members, discards hold",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix()
        const peer = yield* python(prefix)
        const layer = yield* ours(prefix)
        const [p1, p2] = [yield* peer.newChannel(), yield* peer.newChannel()]
        const [o1, o2] = [yield* layer.newChannel(), yield* layer.newChannel()]
        yield* peer.groupAdd("room", p1)
        yield* peer.groupAdd("room", p2)
        yield* layer.groupAdd("room", o1)
        yield* layer.groupAdd("room", o2)
        // A normal channel as a member, added by each side.
        yield* layer.groupAdd("room", "room.log")
        expect(
          ((yield* peer.dump).get(groupKey(prefix, "room")) ?? []).map(([m]) => Buffer.from(m).toString("utf8")).sort()
        ).toEqual([p1, p2, o1, o2, "room.log"].sort())

        // Python's group_send: one member on our key with [o1, o2]; ours deliver a copy to each.
        yield* peer.groupSend("room", { type: "from.python", data: ALL_TYPES })
        for (const channel of [o1, o2]) {
          expect(yield* layer.receive(channel)).toEqual({ type: "from.python", data: ALL_TYPES })
        }
        for (const channel of [p1, p2]) {
          expect(yield* peer.receive(channel, 5)).toEqual({ type: "from.python", data: ALL_TYPES })
        }
        expect(yield* layer.receive("room.log")).toEqual({ type: "from.python", data: ALL_TYPES })

        // Ours: one member on Python's key with [p1, p2] (channels_redis buffers it for each).
        yield* layer.groupSend("room", { type: "from.ours", n: 1 })
        for (const channel of [p1, p2]) expect(yield* peer.receive(channel, 5)).toEqual({ type: "from.ours", n: 1 })
        for (const channel of [o1, o2]) expect(yield* layer.receive(channel)).toEqual({ type: "from.ours", n: 1 })
        expect(yield* peer.receive("room.log", 5)).toEqual({ type: "from.ours", n: 1 })

        // Each side discards one of its channels: the other side's group_send no longer reaches it.
        yield* peer.groupDiscard("room", p2)
        yield* layer.groupDiscard("room", o2)
        yield* layer.groupSend("room", { type: "from.ours", n: 2 })
        yield* peer.groupSend("room", { type: "from.python", n: 2 })
        expect(yield* peer.receive(p1, 5)).toEqual({ type: "from.ours", n: 2 })
        expect(yield* peer.receive(p1, 5)).toEqual({ type: "from.python", n: 2 })
        expect(yield* layer.receive(o1)).toEqual({ type: "from.ours", n: 2 })
        expect(yield* layer.receive(o1)).toEqual({ type: "from.python", n: 2 })
        expect(yield* pythonWithin(peer, p2, 0.5)).toBeUndefined()
        expect(Option.isNone(yield* within(layer, o2, 0.5))).toBe(true)

        // Python discards a normal channel our side added: nobody's group_send writes to it any more.
        yield* peer.groupDiscard("room", "room.log")
        yield* layer.groupSend("room", { type: "from.ours", n: 3 })
        yield* peer.groupSend("room", { type: "from.python", n: 3 })
        expect(yield* layer.receive("room.log")).toEqual({ type: "from.ours", n: 2 })
        expect(yield* layer.receive("room.log")).toEqual({ type: "from.python", n: 2 })
        expect(Option.isNone(yield* within(layer, "room.log", 0.5))).toBe(true)
      }),
    60_000
  )

  it.scopedLive(
    "(d) ChannelFull on each side when the other fills a channel, capacity patterns included",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix()
        const options = { capacity: 2, channelCapacity: { "roomy.*": 4 } }
        const peer = yield* python(prefix, options)
        const layer = yield* ours(prefix, options)
        // Python fills a normal channel: our send is refused.
        yield* peer.send("queue.a", { type: "one" })
        yield* peer.send("queue.a", { type: "two" })
        expect(yield* Effect.flip(layer.send("queue.a", { type: "three" }))).toMatchObject({
          _tag: "ChannelFull",
          channel: "queue.a",
          capacity: 2
        })
        // We fill one: Python's send raises ChannelFull.
        yield* layer.send("queue.b", { type: "one" })
        yield* layer.send("queue.b", { type: "two" })
        expect(yield* Effect.flip(peer.send("queue.b", { type: "three" }))).toMatchObject({ type: "ChannelFull" })
        // The pattern: 4 on both sides.
        for (let n = 0; n < 4; n++) yield* peer.send("roomy.a", { type: "n", n })
        expect(yield* Effect.flip(layer.send("roomy.a", { type: "five" }))).toMatchObject({
          _tag: "ChannelFull",
          capacity: 4
        })
        for (let n = 0; n < 4; n++) yield* layer.send("roomy.b", { type: "n", n })
        expect(yield* Effect.flip(peer.send("roomy.b", { type: "five" }))).toMatchObject({ type: "ChannelFull" })
        // We fill a process-specific channel of Python's that nobody reads yet: Python's own send is refused.
        const theirs = yield* peer.newChannel()
        yield* layer.send(theirs, { type: "one" })
        yield* layer.send(theirs, { type: "two" })
        expect(yield* Effect.flip(peer.send(theirs, { type: "three" }))).toMatchObject({ type: "ChannelFull" })
        expect(yield* Effect.flip(layer.send(theirs, { type: "three" }))).toMatchObject({ _tag: "ChannelFull" })
        // Received in order once they are read, on both sides.
        expect(yield* peer.receive(theirs, 5)).toEqual({ type: "one" })
        expect(yield* layer.receive("queue.a")).toEqual({ type: "one" })
        expect(yield* peer.receive("queue.b", 5)).toEqual({ type: "one" })
        // A freed place takes a message again.
        yield* layer.send("queue.a", { type: "three" })
        yield* peer.send("queue.b", { type: "three" })
      }),
    60_000
  )

  it.scopedLive("(e) a message older than expiry is received by neither side", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const peer = yield* python(prefix, { expiry: 1 })
      const layer = yield* ours(prefix, { expiry: "1 second" })
      const theirs = yield* peer.newChannel()
      const mine = yield* layer.newChannel()
      yield* layer.send("old.a", { type: "old" })
      yield* layer.send(theirs, { type: "old" })
      yield* peer.send("old.b", { type: "old" })
      yield* Effect.sleep("2200 millis")
      expect(yield* pythonWithin(peer, "old.a", 1)).toBeUndefined()
      expect(yield* pythonWithin(peer, theirs, 1)).toBeUndefined()
      expect(Option.isNone(yield* within(layer, "old.b", 1))).toBe(true)
      // A message kept in Redis by a later send (channels_redis trims by whole seconds): we still
      // drop it when we pop it, by its score; the fresh one arrives.
      yield* peer.send("old.c", { type: "old" })
      yield* Effect.sleep("1300 millis")
      yield* peer.send("old.c", { type: "fresh" })
      expect(yield* layer.receive("old.c")).toEqual({ type: "fresh" })
      expect(Option.isNone(yield* within(layer, "old.c", 0.5))).toBe(true)
      // And a fresh message still passes both ways after all that.
      yield* peer.send(mine, { type: "fresh" })
      expect(yield* layer.receive(mine)).toEqual({ type: "fresh" })
    }), 60_000)

  it.scopedLive("(f) encryption both ways with a shared key, and key rotation", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const [oldKey, newKey] = ["the old secret", "the new secret"]
      const peer = yield* python(prefix, { symmetricEncryptionKeys: [oldKey] })
      const layer = yield* ours(prefix, { symmetricEncryptionKeys: [oldKey] })
      const theirs = yield* peer.newChannel()
      const mine = yield* layer.newChannel()
      yield* layer.send(theirs, asMessage(ALL_TYPES))
      expect(yield* peer.receive(theirs, 5)).toEqual(ALL_TYPES)
      yield* peer.send(mine, ALL_TYPES)
      expect(yield* layer.receive(mine)).toEqual(ALL_TYPES)
      // What we store is a token: 12 bytes, then "gAAAA" (version 0x80), opened by the secret.
      yield* layer.send("sealed", { type: "sealed" })
      const [member] = (yield* peer.dump).get(channelKey(prefix, "sealed"))![0]
      expect(Buffer.from(member.subarray(PREFIX_LENGTH, PREFIX_LENGTH + 5)).toString("ascii")).toBe("gAAAA")
      expect(Either.getOrThrow(deserialize(member, { keys: deriveKeys([oldKey]) })).message).toEqual({
        type: "sealed"
      })
      expect(yield* peer.receive("sealed", 5)).toEqual({ type: "sealed" })

      // Group sends, sealed per member key, both ways.
      yield* peer.groupAdd("sealed-room", theirs)
      yield* layer.groupAdd("sealed-room", mine)
      yield* layer.groupSend("sealed-room", { type: "group.ours" })
      yield* peer.groupSend("sealed-room", { type: "group.python" })
      for (const type of ["group.ours", "group.python"]) {
        expect(yield* peer.receive(theirs, 5)).toEqual({ type })
        expect(yield* layer.receive(mine)).toEqual({ type })
      }

      // Rotation: a layer with [new, old] seals with the new key and opens both.
      const rotated = yield* ours(prefix, { symmetricEncryptionKeys: [newKey, oldKey] })
      const rotatedPeer = yield* python(prefix, { symmetricEncryptionKeys: [newKey, oldKey] })
      const rotatedMine = yield* rotated.newChannel()
      const rotatedTheirs = yield* rotatedPeer.newChannel()
      // The old-key side to the rotated side: opened with the second key, both ways.
      yield* peer.send(rotatedMine, { type: "from.old" })
      expect(yield* rotated.receive(rotatedMine)).toEqual({ type: "from.old" })
      yield* layer.send(rotatedTheirs, { type: "from.old" })
      expect(yield* rotatedPeer.receive(rotatedTheirs, 5)).toEqual({ type: "from.old" })
      // The rotated side to Python's new+old and our new+old.
      yield* rotated.send(rotatedTheirs, { type: "from.new" })
      expect(yield* rotatedPeer.receive(rotatedTheirs, 5)).toEqual({ type: "from.new" })
      yield* rotatedPeer.send(rotatedMine, { type: "from.new" })
      expect(yield* rotated.receive(rotatedMine)).toEqual({ type: "from.new" })
      // Sealed with the new key, to sides that hold only the old one: Python raises InvalidToken ...
      yield* rotated.send(theirs, { type: "unreadable" })
      expect(yield* Effect.flip(peer.receive(theirs, 5))).toMatchObject({ type: "InvalidToken" })
      // ... and we drop it, counted, without failing the receive or the layer.
      const before = yield* counter(RedisMetrics.undecryptableMessages)
      yield* rotatedPeer.send(mine, { type: "unreadable" })
      yield* peer.send(mine, { type: "readable" })
      expect(yield* layer.receive(mine)).toEqual({ type: "readable" })
      expect((yield* counter(RedisMetrics.undecryptableMessages)) - before).toBe(1)
      // The log line names the Redis key it came from (debounced: one line per kind and interval).
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => {
          lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
        })
      )
      const watched = (yield* Effect.provide(
        Redis.make({ hosts: [REDIS_URL], prefix, symmetricEncryptionKeys: [oldKey] }),
        capture
      )).channelLayer
      const watchedChannel = yield* watched.newChannel()
      yield* rotatedPeer.send(watchedChannel, { type: "unreadable" })
      yield* peer.send(watchedChannel, { type: "readable" })
      expect(yield* watched.receive(watchedChannel)).toEqual({ type: "readable" })
      const logged = yield* Effect.gen(function*() {
        for (let i = 0; i < 40 && !lines.some((line) => line.includes("symmetricEncryptionKeys")); i++) {
          yield* Effect.sleep("50 millis")
        }
        return lines.find((line) => line.includes("symmetricEncryptionKeys"))
      })
      expect(logged).toContain(`dropped 1 stored message(s) that none of the symmetricEncryptionKeys opens`)
      expect(logged).toContain(channelKey(prefix, watchedChannel))
      // An unencrypted layer's messages are not read by an encrypted one either (and the reverse).
      const plain = yield* ours(prefix)
      yield* plain.send(mine, { type: "plain" })
      yield* peer.send(mine, { type: "after" })
      expect(yield* layer.receive(mine)).toEqual({ type: "after" })
      expect((yield* counter(RedisMetrics.undecryptableMessages)) - before).toBe(3)
    }), 60_000)

  it.scopedLive("(g) what our sends leave in Redis is channels_redis's layout", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix()
      const peer = yield* python(prefix)
      const { channelLayer: layer, connection } = yield* Redis.make({ hosts: [REDIS_URL], prefix })
      const theirs = yield* peer.newChannel()
      const before = Date.now() / 1000
      yield* layer.send(theirs, { type: "direct", n: 1 })
      yield* layer.send("plain.queue", { type: "normal", n: 2 })
      yield* peer.groupAdd("g", theirs)
      yield* peer.groupAdd("g", "plain.queue")
      yield* layer.groupSend("g", { type: "group", n: 3 })
      const after = Date.now() / 1000
      const dump = yield* peer.dump
      // Keys: the prefix and the non-local part (up to and including "!"), or the whole normal name.
      const specificKey = `${prefix}specific.${peer.clientPrefix}!`
      expect(channelKey(prefix, theirs)).toBe(specificKey)
      expect([...dump.keys()].sort()).toEqual([`${prefix}:group:g`, specificKey, `${prefix}plain.queue`].sort())
      const [direct, group] = dump.get(specificKey)!
      const [normal, normalGroup] = dump.get(`${prefix}plain.queue`)!
      for (const [member, score] of [direct, group, normal, normalGroup]) {
        // The score: the send time in float seconds (not whole, not milliseconds).
        expect(score).toBeGreaterThanOrEqual(Math.floor(before))
        expect(score).toBeLessThanOrEqual(after + 1)
        expect(member.length).toBeGreaterThan(PREFIX_LENGTH)
      }
      expect([direct, group, normal, normalGroup].some(([, score]) => !Number.isInteger(score))).toBe(true)
      // Members: 12 random bytes, then msgpack with the message's keys first, __asgi_channel__ last.
      const read = (member: Uint8Array) => Either.getOrThrow(deserialize(member))
      expect(read(direct[0])).toEqual({ message: { type: "direct", n: 1 }, asgiChannel: theirs })
      expect(read(group[0])).toEqual({ message: { type: "group", n: 3 }, asgiChannel: [theirs] })
      expect(read(normal[0])).toEqual({ message: { type: "normal", n: 2 }, asgiChannel: undefined })
      expect(read(normalGroup[0])).toEqual({ message: { type: "group", n: 3 }, asgiChannel: ["plain.queue"] })
      const tail = Buffer.from(direct[0]).toString("latin1")
      expect(tail.lastIndexOf(CHANNEL_KEY)).toBeGreaterThan(tail.lastIndexOf("direct"))
      expect(Buffer.from(normal[0]).toString("latin1")).not.toContain(CHANNEL_KEY)
      // The keys expire: the channel keys after expiry (60 s), the group's after group expiry (1 day).
      const ttl = (key: string) => Effect.map(connection.command(["PTTL", key]), Number)
      expect(yield* ttl(specificKey)).toBeGreaterThan(55_000)
      expect(yield* ttl(specificKey)).toBeLessThanOrEqual(60_000)
      expect(yield* ttl(`${prefix}:group:g`)).toBeGreaterThan(86_000_000)
      // And Python reads all of it.
      expect(yield* peer.receive(theirs, 5)).toEqual({ type: "direct", n: 1 })
      expect(yield* peer.receive(theirs, 5)).toEqual({ type: "group", n: 3 })
      expect(yield* peer.receive("plain.queue", 5)).toEqual({ type: "normal", n: 2 })
      expect(yield* peer.receive("plain.queue", 5)).toEqual({ type: "group", n: 3 })
    }), 60_000)

  it.scopedLive(
    "(h) two hosts, sharded both ways (two databases of one Redis stand for two servers)",
    () =>
      Effect.gen(function*() {
        const base = REDIS_URL.replace(/\/\d*$/, "")
        const hosts = [`${base}/1`, `${base}/2`]
        const prefix = uniquePrefix()
        const peer = yield* python(prefix, { hosts })
        const layer = yield* ours(prefix, { hosts })
        const where = (dump: ReadonlyArray<Peer.Dump>, key: string) =>
          dump.flatMap((host, index) => host.has(key) ? [index] : [])
        /** New channels until one whose full name and non-local part hash to different hosts, and one where they agree. */
        const splitAndAgreed = (make: Effect.Effect<string, unknown>) =>
          Effect.gen(function*() {
            let split: string | undefined
            let agreed: string | undefined
            while (split === undefined || agreed === undefined) {
              const channel = yield* make
              if (pythonSendShardIndex(channel, 2) === receiveShardIndex(channel, 2)) agreed ??= channel
              else split ??= channel
            }
            return { split, agreed }
          })

        // Python to ours: channels_redis writes to the host of the FULL name; we read every host.
        const mine = yield* splitAndAgreed(layer.newChannel())
        yield* peer.send(mine.split, { type: "to.split" })
        yield* peer.send(mine.agreed, { type: "to.agreed" })
        expect(yield* layer.receive(mine.split)).toEqual({ type: "to.split" })
        expect(yield* layer.receive(mine.agreed)).toEqual({ type: "to.agreed" })

        // Ours to Python: we write where channels_redis's receive reads (the non-local part's host).
        const theirs = yield* splitAndAgreed(peer.newChannel())
        yield* layer.send(theirs.split, { type: "to.split" })
        yield* layer.send(theirs.agreed, { type: "to.agreed" })
        const key = channelKey(prefix, theirs.split)
        expect(where(yield* peer.dumpHosts, key)).toEqual([receiveShardIndex(theirs.split, 2)])
        expect(yield* peer.receive(theirs.split, 5)).toEqual({ type: "to.split" })
        expect(yield* peer.receive(theirs.agreed, 5)).toEqual({ type: "to.agreed" })

        // Groups on both hosts: the sorted set on the group's host, members from both sides.
        const groups = Array.from({ length: 64 }, (_, i) => `room-${i}`)
        const onHost = [0, 1].map((host) => groups.find((group) => groupShardIndex(group, 2) === host)!)
        for (const group of onHost) {
          yield* layer.groupAdd(group, mine.split)
          yield* layer.groupAdd(group, "sharded.log")
          yield* peer.groupAdd(group, theirs.split)
          yield* peer.groupAdd(group, theirs.agreed)
          expect(where(yield* peer.dumpHosts, groupKey(prefix, group))).toEqual([groupShardIndex(group, 2)])
          yield* peer.groupSend(group, { type: "from.python", group })
          yield* layer.groupSend(group, { type: "from.ours", group })
          // Two senders, one key: their order is their clocks' (scores are send times), so any order.
          const both = [{ type: "from.python", group }, { type: "from.ours", group }]
          const twice = <E>(receive: Effect.Effect<Peer.PeerMessage | Message, E>) =>
            Effect.map(Effect.all([receive, receive]), (got) => {
              expect(got).toHaveLength(2)
              expect(got).toEqual(expect.arrayContaining(both))
            })
          yield* twice(peer.receive(theirs.split, 5))
          yield* twice(peer.receive(theirs.agreed, 5))
          yield* twice(layer.receive(mine.split))
          // The normal member's messages lie on its own host; both sides' receives find them.
          const log = [yield* layer.receive("sharded.log"), yield* pythonNormal(peer, "sharded.log")]
          expect(log).toEqual(expect.arrayContaining(both))
        }

        // Normal channels: sends go round robin over the hosts on both sides; receives find them all.
        for (let n = 0; n < 4; n++) yield* layer.send("sharded.queue", { type: "ours", n })
        const spread = yield* peer.dumpHosts
        expect(spread.map((host) => host.get(channelKey(prefix, "sharded.queue"))?.length)).toEqual([2, 2])
        // channels_redis's receive blocks on one host in turn (pythonNormal): it finds all four.
        const pythonGot: Array<number> = []
        for (let n = 0; n < 4; n++) pythonGot.push(Number((yield* pythonNormal(peer, "sharded.queue")).n))
        expect(pythonGot.sort()).toEqual([0, 1, 2, 3])
        for (let n = 0; n < 3; n++) yield* peer.send("sharded.queue", { type: "python", n })
        const ourGot: Array<number> = []
        for (let n = 0; n < 3; n++) ourGot.push(Number((yield* layer.receive("sharded.queue")).n))
        expect(ourGot.sort()).toEqual([0, 1, 2])
        expect(Option.isNone(yield* within(layer, "sharded.queue", 0.5))).toBe(true)
      }),
    60_000
  )
})
