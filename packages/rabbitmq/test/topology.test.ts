/**
 * The topology the layer declares, read back from the broker with rabbitmqctl: the queue's name
 * and arguments, the groups exchange, bindings that follow the first and last local member, one
 * queue per instance and one publish per group send.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import {
  bindings,
  collect,
  instance,
  queueInfo,
  rabbitmqctl,
  rawChannel,
  scopedExchange,
  unique,
  vhost,
  waitFor
} from "./helpers.js"

interface ExchangeRow {
  readonly name: string
  readonly type: string
  readonly durable: boolean
  readonly auto_delete: boolean
  readonly internal: boolean
  readonly arguments: ReadonlyArray<unknown>
}

const argumentsOf = (row: { readonly arguments: ReadonlyArray<readonly [string, string, unknown]> }) =>
  Object.fromEntries(row.arguments.map(([key, , value]) => [key, value]))

describe("RabbitMQ topology", () => {
  it.scopedLive("one queue channels_<12 letters> with the Python layer's arguments, kept across reconnects", () =>
    Effect.gen(function*() {
      const layer = yield* instance({ remoteCapacity: 321, expiry: "2500.9 millis" })
      const channel = yield* layer.layer.newChannel()
      const queue = yield* layer.connection.queue
      expect(queue).toMatch(/^channels_[a-zA-Z]{12}$/)
      expect(channel).toMatch(new RegExp(`^${queue}![a-zA-Z]{12}$`))
      const row = yield* queueInfo(queue)
      // Not exclusive, so it outlives its connection; x-expires removes it once the process is gone.
      expect(row).toMatchObject({ exclusive: false, durable: false, auto_delete: false })
      expect(argumentsOf(row!)).toEqual({
        "x-max-length": 321,
        "x-overflow": "reject-publish",
        "x-message-ttl": 2500,
        "x-expires": 62500,
        "x-single-active-consumer": true
      })
    }))

  it.scopedLive("queueType quorum: a durable quorum queue with the same arguments", () =>
    Effect.gen(function*() {
      const layer = yield* instance({ queueType: "quorum", queueExpiry: "90 seconds" })
      const channel = yield* layer.layer.newChannel()
      const queue = yield* layer.connection.queue
      const row = yield* queueInfo(queue)
      // rabbitmqctl reports "exclusive" as empty for quorum queues, which cannot be exclusive.
      expect(row).toMatchObject({ durable: true, auto_delete: false })
      expect(argumentsOf(row!)).toEqual({
        "x-queue-type": "quorum",
        "x-max-length": 100,
        "x-overflow": "reject-publish",
        "x-message-ttl": 60000,
        "x-expires": 90000,
        "x-single-active-consumer": true
      })
      yield* layer.layer.send(channel, { type: "quorum.hello" })
      expect(yield* layer.layer.receive(channel)).toEqual({ type: "quorum.hello" })
    }))

  it.scopedLive("closing the layer deletes its queue: sends to its channels then fail with ChannelNotFound", () =>
    Effect.gen(function*() {
      const sender = yield* instance()
      const scope = yield* Scope.make()
      const closing = yield* instance().pipe(Scope.extend(scope))
      const channel = yield* closing.layer.newChannel()
      const queue = yield* closing.connection.queue
      expect(yield* queueInfo(queue)).toBeDefined()
      yield* Scope.close(scope, Exit.void)
      expect(yield* queueInfo(queue)).toBeUndefined()
      const error = yield* Effect.flip(sender.layer.send(channel, { type: "too.late" }))
      expect(error._tag).toBe("ChannelNotFound")
    }))

  it.scopedLive("defaults: x-max-length 100, x-message-ttl 60000, exchange \"groups\" direct, not durable, kept", () =>
    Effect.gen(function*() {
      const layer = yield* instance()
      yield* layer.layer.newChannel()
      const row = yield* queueInfo(yield* layer.connection.queue)
      expect(argumentsOf(row!)).toEqual({
        "x-max-length": 100,
        "x-overflow": "reject-publish",
        "x-message-ttl": 60000,
        "x-expires": 120000,
        "x-single-active-consumer": true
      })
      const exchanges = yield* rabbitmqctl<Array<ExchangeRow>>(
        "list_exchanges",
        "-p",
        vhost,
        "name",
        "type",
        "durable",
        "auto_delete",
        "internal",
        "arguments"
      )
      expect(exchanges.find((e) => e.name === "groups")).toEqual({
        name: "groups",
        type: "direct",
        durable: false,
        auto_delete: false,
        internal: false,
        arguments: []
      })
    }))

  it.scopedLive("newChannel(prefix) puts the prefix after the queue name; bad prefixes are typed errors", () =>
    Effect.gen(function*() {
      const layer = yield* instance()
      const queue = yield* layer.connection.queue
      expect(yield* layer.layer.newChannel("websocket.")).toMatch(new RegExp(`^${queue}!websocket\\.[a-zA-Z]{12}$`))
      const error = yield* Effect.flip(layer.layer.newChannel("no spaces"))
      expect(error._tag).toBe("InvalidChannelName")
      expect(error.message).toContain("a newChannel prefix must be a string of ASCII letters, digits")
    }))

  it.scopedLive("the queue is bound to a group on its first local member and unbound after its last", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("topology"))
      const layer = yield* instance({ groupsExchange: exchange })
      const [a, b] = [yield* layer.layer.newChannel(), yield* layer.layer.newChannel()]
      const queue = yield* layer.connection.queue
      const [room, lobby] = [unique("room"), unique("lobby")]
      expect(yield* bindings(exchange, queue)).toEqual([])
      yield* layer.layer.groupAdd(room, a)
      expect(yield* bindings(exchange, queue)).toEqual([room])
      yield* layer.layer.groupAdd(room, b)
      yield* layer.layer.groupAdd(room, b)
      yield* layer.layer.groupAdd(lobby, b)
      expect(yield* bindings(exchange, queue)).toEqual([lobby, room].sort())
      yield* layer.layer.groupDiscard(room, a)
      expect(yield* bindings(exchange, queue)).toEqual([lobby, room].sort())
      yield* layer.layer.groupDiscard(room, b)
      expect(yield* bindings(exchange, queue)).toEqual([lobby])
      yield* layer.layer.groupDiscard(lobby, b)
      yield* layer.layer.groupDiscard(lobby, b)
      expect(yield* bindings(exchange, queue)).toEqual([])
    }))

  it.scopedLive("one queue per instance, whatever the number of channels and groups", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("topology"))
      const layer = yield* instance({ groupsExchange: exchange })
      const channels = yield* Effect.all(Array.from({ length: 200 }, () => layer.layer.newChannel()))
      yield* Effect.forEach(channels, (channel, i) => layer.layer.groupAdd(`g${i % 20}`, channel), {
        concurrency: 50,
        discard: true
      })
      const queue = yield* layer.connection.queue
      const connections = yield* rabbitmqctl<
        Array<{ pid: string; client_properties: Array<[string, string, unknown]> }>
      >(
        "list_connections",
        "pid",
        "client_properties"
      )
      const mine = connections.find((c) =>
        c.client_properties.some(([key, , value]) => key === "connection_name" && value === `channel-layer ${queue}`)
      )
      expect(mine).toBeDefined()
      // The queues this connection consumes: its channels' consumers.
      const channelsOfMine = (yield* rabbitmqctl<Array<{ pid: string; connection: string }>>(
        "list_channels",
        "pid",
        "connection"
      )).filter((c) => c.connection === mine!.pid).map((c) => c.pid)
      const consumers = yield* rabbitmqctl<Array<{ queue_name: string; channel_pid: string }>>(
        "list_consumers",
        "-p",
        vhost,
        "queue_name",
        "channel_pid"
      )
      expect(consumers.filter((c) => channelsOfMine.includes(c.channel_pid)).map((c) => c.queue_name)).toEqual([queue])
      expect((yield* bindings(exchange, queue)).length).toBe(20)
    }))

  it.scopedLive("a group send is one publish, whatever the number of members and instances", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("fanout"))
      const group = unique("crowd")
      const [one, two, sender] = [
        yield* instance({ groupsExchange: exchange }),
        yield* instance({ groupsExchange: exchange }),
        yield* instance({ groupsExchange: exchange })
      ]
      const members = [
        ...(yield* Effect.all(Array.from({ length: 25 }, () => one.layer.newChannel()))).map((c) => [one, c] as const),
        ...(yield* Effect.all(Array.from({ length: 25 }, () => two.layer.newChannel()))).map((c) => [two, c] as const)
      ]
      yield* Effect.forEach(members, ([layer, channel]) => layer.layer.groupAdd(group, channel), { discard: true })
      // A raw queue bound to the same group counts what the broker routes: one copy per publish.
      const { channel: raw } = yield* rawChannel
      const { queue } = yield* Effect.promise(() => raw.assertQueue("", { exclusive: true }))
      yield* Effect.promise(() => raw.bindQueue(queue, exchange, group))
      const copies = yield* collect(raw, queue)
      for (let i = 0; i < 10; i++) yield* sender.layer.groupSend(group, { type: "crowd.hello", i })
      for (const [layer, channel] of members) {
        for (let i = 0; i < 10; i++) expect((yield* layer.layer.receive(channel)).i).toBe(i)
      }
      yield* waitFor("10 copies in the raw queue", () => copies.length >= 10)
      yield* Effect.sleep("100 millis")
      expect(copies.length).toBe(10)
    }))
})
