/**
 * Wire compatibility with Python's channels_rabbitmq: the bodies the layer puts on the wire are
 * byte for byte what the Python layer publishes for the same messages (core's test/fixtures, a copy of
 * the project's golden file), and the layer decodes the Python layer's bytes back into the same
 * messages, for direct and group messages.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  collect,
  goldenCases,
  instance,
  rawChannel,
  rawConfirmChannel,
  scopedExchange,
  unique,
  waitFor
} from "./helpers.js"

const cases = goldenCases()
const direct = cases.filter((c) => c.kind === "channel")
const groups = cases.filter((c) => c.kind === "group")
const queueOf = (channel: string) => channel.slice(0, channel.indexOf("!"))

describe("RabbitMQ wire format (golden bytes of channels_rabbitmq)", () => {
  it("the fixture has direct and group cases", () => {
    expect(direct.length).toBeGreaterThanOrEqual(3)
    expect(groups.length).toBeGreaterThanOrEqual(2)
  })

  it.scopedLive("direct sends publish exactly the Python layer's bytes, to the queue named by the channel", () =>
    Effect.gen(function*() {
      const sender = yield* instance()
      const { channel } = yield* rawChannel
      // The recipients' queues, declared (exclusive) by a raw consumer standing in for Python.
      const bodies = new Map<string, Array<Buffer>>()
      for (const queue of new Set(direct.map((c) => queueOf(c.recipient)))) {
        yield* Effect.promise(() => channel.assertQueue(queue, { exclusive: true, durable: false }))
        bodies.set(queue, yield* collect(channel, queue))
      }
      for (const golden of direct) yield* sender.layer.send(golden.recipient, golden.message)
      for (const [queue, got] of bodies) {
        const expected = direct.filter((c) => queueOf(c.recipient) === queue)
        yield* waitFor(`${expected.length} bodies in ${queue}`, () => got.length >= expected.length)
        expect(got.map((body) => body.toString("hex"))).toEqual(expected.map((c) => c.body.toString("hex")))
      }
    }))

  it.scopedLive("group sends publish exactly the Python layer's bytes, on the groups exchange with the group as key", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("wire-groups"))
      const sender = yield* instance({ groupsExchange: exchange })
      yield* sender.layer.newChannel() // connected: the exchange exists
      const { channel } = yield* rawChannel
      const { queue } = yield* Effect.promise(() => channel.assertQueue("", { exclusive: true }))
      for (const golden of groups) yield* Effect.promise(() => channel.bindQueue(queue, exchange, golden.recipient))
      const got = yield* collect(channel, queue)
      for (const golden of groups) yield* sender.layer.groupSend(golden.recipient, golden.message)
      yield* waitFor(`${groups.length} group bodies`, () => got.length >= groups.length)
      expect(got.map((body) => body.toString("hex"))).toEqual(groups.map((c) => c.body.toString("hex")))
    }))

  it.scopedLive("the Python layer's direct bytes decode into the same messages", () =>
    Effect.gen(function*() {
      // One instance per recipient queue, named as the Python side named it.
      const raw = yield* rawConfirmChannel
      for (const queue of new Set(direct.map((c) => queueOf(c.recipient)))) {
        const receiver = yield* instance({}, { queueName: () => queue })
        expect(yield* receiver.connection.queue).toBe(queue)
        const mine = direct.filter((c) => queueOf(c.recipient) === queue)
        yield* Effect.promise(async () => {
          for (const golden of mine) raw.channel.sendToQueue(queue, golden.body)
          await raw.channel.waitForConfirms()
        })
        for (const golden of mine) {
          expect(yield* receiver.layer.receive(golden.recipient)).toStrictEqual(golden.message)
        }
      }
    }))

  it.scopedLive("the Python layer's group bytes decode into the same messages, for every local member", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("wire-groups"))
      const receiver = yield* instance({ groupsExchange: exchange })
      const [a, b] = [yield* receiver.layer.newChannel(), yield* receiver.layer.newChannel()]
      for (const golden of groups) {
        yield* receiver.layer.groupAdd(golden.recipient, a)
        yield* receiver.layer.groupAdd(golden.recipient, b)
      }
      const raw = yield* rawConfirmChannel
      yield* Effect.promise(async () => {
        for (const golden of groups) raw.channel.publish(exchange, golden.recipient, golden.body)
        await raw.channel.waitForConfirms()
      })
      for (const golden of groups) {
        expect(yield* receiver.layer.receive(a)).toStrictEqual(golden.message)
        expect(yield* receiver.layer.receive(b)).toStrictEqual(golden.message)
      }
    }))
})
