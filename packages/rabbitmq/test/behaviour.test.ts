/**
 * The behaviours the Python layer's own test suite checks, against the real broker: remote and
 * local capacity, expiry in the broker and in the local buffer (with the warnings), group
 * isolation by exchange name, group sends to a full queue, a taken queue name, and many
 * concurrent sends and group sends.
 */
import { Metrics } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { randomQueueName } from "../src/internal/topology.js"
import { captureLogs, instance, rabbitmqctl, rawChannel, scopedExchange, unique, vhost, waitFor } from "./helpers.js"

const counts = (queue: string) =>
  Effect.map(
    rabbitmqctl<Array<{ name: string; messages_ready: number; messages_unacknowledged: number }>>(
      "list_queues",
      "-p",
      vhost,
      "name",
      "messages_ready",
      "messages_unacknowledged"
    ),
    (rows) => rows.find((row) => row.name === queue)
  )
const messagesReady = (queue: string) => Effect.map(counts(queue), (row) => row?.messages_ready)

/** Sends numbered messages until one fails; returns how many were accepted and the failure. */
const fill = (send: (i: number) => Effect.Effect<void, { readonly _tag: string }>, limit: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < limit; i++) {
      const result = yield* Effect.either(send(i))
      if (result._tag === "Left") return { accepted: i, error: result.left }
    }
    return { accepted: limit, error: undefined }
  })

describe("RabbitMQ layer behaviour (the Python reference suite's cases)", () => {
  it.scopedLive("remote capacity: a send to a full queue of another instance fails with ChannelFull", () =>
    Effect.gen(function*() {
      const receiver = yield* instance({ remoteCapacity: 3, localCapacity: 1 })
      const sender = yield* instance()
      const channel = yield* receiver.layer.newChannel()
      const { accepted, error } = yield* fill((i) => sender.layer.send(channel, { type: "fill", i }), 50)
      // 3 in the queue, and at most the 1 the receiver's prefetch took off it.
      expect(accepted).toBeGreaterThanOrEqual(3)
      expect(accepted).toBeLessThanOrEqual(4)
      expect(error).toMatchObject({ _tag: "ChannelFull", channel })
      for (let i = 0; i < accepted; i++) expect((yield* receiver.layer.receive(channel)).i).toBe(i)
      yield* sender.layer.send(channel, { type: "after" })
      expect((yield* receiver.layer.receive(channel)).type).toBe("after")
    }))

  it.scopedLive("counts a sent message once the broker confirmed it, direct or group, not a send refused as full", () =>
    Effect.gen(function*() {
      const sent = Metrics.messagesSent.pipe(Metric.taggedWithLabels(Metrics.transportLabel("rabbitmq")))
      const receiver = yield* instance({ remoteCapacity: 3, localCapacity: 1 })
      const sender = yield* instance()
      const channel = yield* receiver.layer.newChannel()
      const before = (yield* Metric.value(sent)).count
      const { accepted, error } = yield* fill((i) => sender.layer.send(channel, { type: "fill", i }), 50)
      expect(error).toMatchObject({ _tag: "ChannelFull" })
      yield* sender.layer.groupSend(unique("counted"), { type: "to nobody" })
      expect((yield* Metric.value(sent)).count - before).toBe(accepted + 1)
    }))

  it.scopedLive("local capacity: the prefetch holds localCapacity deliveries, the rest waits in the broker", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const receiver = yield* instance({ localCapacity: 2, remoteCapacity: 100 })
      const sender = yield* instance()
      const channel = yield* receiver.layer.newChannel()
      const queue = yield* receiver.connection.queue
      for (let i = 0; i < 10; i++) yield* sender.layer.send(channel, { type: "held", i })
      yield* Effect.sleep("200 millis")
      expect(yield* messagesReady(queue)).toBe(8)
      yield* waitFor("the back-pressure warning", () => logs.some((l) => l.message.startsWith("back-pressure")))
      const warning = logs.find((l) => l.message.startsWith("back-pressure"))!
      expect(warning.level).toBe("WARN")
      expect(warning.message).toContain("localCapacity 2")
      expect(warning.message).toContain(channel)
      for (let i = 0; i < 10; i++) expect((yield* receiver.layer.receive(channel)).i).toBe(i)
      expect(yield* messagesReady(queue)).toBe(0)
    }))

  it.scopedLive("remote expiry: messages older than expiry are dropped by the broker (x-message-ttl)", () =>
    Effect.gen(function*() {
      // One delivery fits the prefetch (and may wait locally for a minute); the rest wait in
      // the broker, where they expire.
      const receiver = yield* instance({ expiry: "300 millis", localExpiry: "60 seconds", localCapacity: 1 })
      const sender = yield* instance()
      const channel = yield* receiver.layer.newChannel()
      for (let i = 0; i < 3; i++) yield* sender.layer.send(channel, { type: "old", i })
      yield* Effect.sleep("800 millis")
      yield* sender.layer.send(channel, { type: "fresh" })
      expect(yield* receiver.layer.receive(channel)).toEqual({ type: "old", i: 0 })
      expect(yield* receiver.layer.receive(channel)).toEqual({ type: "fresh" })
    }))

  it.scopedLive("local expiry: a delivery nobody receives in localExpiry is dropped, counted and logged", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const labels = Metrics.transportLabel("rabbitmq")
      const expiredBefore = (yield* Metric.value(Metrics.messagesExpired.pipe(Metric.taggedWithLabels(labels)))).count
      const receiver = yield* instance({ localExpiry: "200 millis" })
      const channel = yield* receiver.layer.newChannel()
      const queue = yield* receiver.connection.queue
      yield* receiver.layer.send(channel, { type: "stale" })
      yield* waitFor(
        "the local expiry warning",
        () => logs.some((l) => l.message.startsWith("local expiry")),
        "5 seconds"
      )
      const warning = logs.find((l) => l.message.startsWith("local expiry"))!
      expect(warning.level).toBe("WARN")
      expect(warning.message).toContain(channel)
      const expired = (yield* Metric.value(Metrics.messagesExpired.pipe(Metric.taggedWithLabels(labels)))).count
      expect(expired).toBeGreaterThan(expiredBefore)
      // Dropped and acknowledged: nothing is left unacknowledged at the broker.
      expect(yield* counts(queue)).toMatchObject({ messages_ready: 0, messages_unacknowledged: 0 })
      yield* receiver.layer.send(channel, { type: "fresh" })
      expect(yield* receiver.layer.receive(channel)).toEqual({ type: "fresh" })
    }))

  it.scopedLive("groups are isolated by groupsExchange: layers on another exchange never see them", () =>
    Effect.gen(function*() {
      const [red, blue] = [yield* scopedExchange(unique("red")), yield* scopedExchange(unique("blue"))]
      const group = unique("shared-name")
      const [redOne, redTwo, blueOne] = [
        yield* instance({ groupsExchange: red }),
        yield* instance({ groupsExchange: red }),
        yield* instance({ groupsExchange: blue })
      ]
      const [a, b, c] = [
        yield* redOne.layer.newChannel(),
        yield* redTwo.layer.newChannel(),
        yield* blueOne.layer.newChannel()
      ]
      yield* redOne.layer.groupAdd(group, a)
      yield* redTwo.layer.groupAdd(group, b)
      yield* blueOne.layer.groupAdd(group, c)
      yield* redOne.layer.groupSend(group, { type: "red.only" })
      yield* blueOne.layer.groupSend(group, { type: "blue.only" })
      expect(yield* redOne.layer.receive(a)).toEqual({ type: "red.only" })
      expect(yield* redTwo.layer.receive(b)).toEqual({ type: "red.only" })
      expect(yield* blueOne.layer.receive(c)).toEqual({ type: "blue.only" })
      for (const [layer, channel] of [[redOne, a], [redTwo, b], [blueOne, c]] as const) {
        const extra = yield* layer.layer.receive(channel).pipe(Effect.timeout("300 millis"), Effect.option)
        expect(extra._tag).toBe("None")
      }
    }))

  it.scopedLive("a group send to a full queue succeeds, is counted and logged; the other members get it", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const labels = Metrics.transportLabel("rabbitmq")
      const fullBefore = (yield* Metric.value(Metrics.messagesRejectedFull.pipe(Metric.taggedWithLabels(labels)))).count
      const group = unique("partly-full")
      const stuck = yield* instance({ remoteCapacity: 2, localCapacity: 1 })
      const healthy = yield* instance()
      const sender = yield* instance()
      const [s, h] = [yield* stuck.layer.newChannel(), yield* healthy.layer.newChannel()]
      yield* stuck.layer.groupAdd(group, s)
      yield* healthy.layer.groupAdd(group, h)
      const { error } = yield* fill((i) => sender.layer.send(s, { type: "fill", i }), 50)
      expect(error?._tag).toBe("ChannelFull")
      for (let i = 0; i < 3; i++) yield* sender.layer.groupSend(group, { type: "group", i })
      for (let i = 0; i < 3; i++) expect(yield* healthy.layer.receive(h)).toEqual({ type: "group", i })
      const full = (yield* Metric.value(Metrics.messagesRejectedFull.pipe(Metric.taggedWithLabels(labels)))).count
      expect(full).toBeGreaterThanOrEqual(fullBefore + 2)
      yield* waitFor(
        "the refused group sends' warning",
        () => logs.some((l) => l.message.includes("refused by a full"))
      )
      const warning = logs.find((l) => l.message.includes("refused by a full"))
      expect(warning?.level).toBe("WARN")
      expect(warning?.message).toMatch(
        new RegExp(`group send\\(s\\) refused by a full member queue .*: ${group} \\(\\d\\)`)
      )
    }))

  it.scopedLive("a queue name that is taken is retried with a fresh one before any channel is handed out", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const taken = randomQueueName()
      const { channel } = yield* rawChannel
      yield* Effect.promise(() => channel.assertQueue(taken, { exclusive: true }))
      const names = [taken, taken]
      const layer = yield* instance({}, {
        queueName: () => names.shift() ?? randomQueueName()
      })
      const mine = yield* layer.layer.newChannel()
      const queue = yield* layer.connection.queue
      expect(queue).not.toBe(taken)
      expect(mine.startsWith(`${queue}!`)).toBe(true)
      expect(logs.filter((l) => l.message.startsWith(`queue name ${taken} is taken`)).length).toBe(2)
      yield* layer.layer.send(mine, { type: "works" })
      expect(yield* layer.layer.receive(mine)).toEqual({ type: "works" })
    }))

  it.scopedLive("concurrent sends and group sends from two instances are all delivered, once", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("concurrent"))
      const group = unique("busy")
      const [one, two] = [
        yield* instance({ groupsExchange: exchange, remoteCapacity: 10_000 }),
        yield* instance({ groupsExchange: exchange, remoteCapacity: 10_000 })
      ]
      const [a, b] = [yield* one.layer.newChannel(), yield* two.layer.newChannel()]
      yield* one.layer.groupAdd(group, a)
      yield* two.layer.groupAdd(group, b)
      const sends = Array.from({ length: 1000 }, (_, i) => i)
      yield* Effect.all([
        Effect.forEach(sends, (i) => one.layer.send(b, { type: "direct", i }), { concurrency: 100, discard: true }),
        Effect.forEach(sends, (i) => two.layer.send(a, { type: "direct", i }), { concurrency: 100, discard: true }),
        Effect.forEach(
          sends.slice(0, 300),
          (i) => (i % 2 === 0 ? one : two).layer.groupSend(group, { type: "group", i }),
          { concurrency: "unbounded", discard: true }
        )
      ], { concurrency: "unbounded", discard: true })
      for (const [layer, channel] of [[one, a], [two, b]] as const) {
        const seen = { direct: new Set<unknown>(), group: new Set<unknown>() }
        for (let n = 0; n < 1300; n++) {
          const message = yield* layer.layer.receive(channel)
          seen[message.type as "direct" | "group"].add(message.i)
        }
        expect(seen.direct.size).toBe(1000)
        expect(seen.group.size).toBe(300)
        const extra = yield* layer.layer.receive(channel).pipe(Effect.timeout("200 millis"), Effect.option)
        expect(extra._tag).toBe("None")
      }
    }))

  it.scopedLive("normal channels and other instances' channels are refused with a reason", () =>
    Effect.gen(function*() {
      const [one, two] = [yield* instance(), yield* instance()]
      const theirs = yield* two.layer.newChannel()
      const normal = yield* Effect.flip(one.layer.send("jobs.resize", { type: "job" }))
      expect(normal._tag).toBe("InvalidChannelName")
      expect(normal.message).toContain("RabbitMQConnection")
      expect((yield* Effect.flip(one.layer.receive("jobs.resize"))).message).toContain("process-local")
      const foreign = yield* Effect.flip(one.layer.receive(theirs))
      expect(foreign._tag).toBe("InvalidChannelName")
      expect(foreign.message).toContain("another layer instance")
      expect((yield* Effect.flip(one.layer.groupAdd("g", theirs)))._tag).toBe("InvalidChannelName")
    }))
})
