// What happens to a message on its way: no slow-joiner loss, held direct messages, messages for a
// process that left, expired or malformed messages; each drop counted and logged.
import { Codec, Metrics } from "@channel-layer/core"
import { ZeroMQ, ZeroMQMetrics, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Scope } from "effect"
import { XPublisher } from "zeromq"
import { build, captureLogs } from "./support/layers.js"
import { freePorts, tcp } from "./support/ports.js"

const labelled = (metric: Metric.Metric.Counter<number>) =>
  Metric.value(Metric.taggedWithLabels(metric, Metrics.transportLabel("zeromq")))

const pairs = {
  embedded: () =>
    Effect.gen(function*() {
      const [producerPort, consumerPort] = yield* Effect.promise(() => freePorts(2))
      const producer = yield* build(ZeroMQ.layerEmbedded({ publishAddress: tcp(producerPort), linger: 0 }))
      const consumer = yield* build(
        ZeroMQ.layerEmbedded({ publishAddress: tcp(consumerPort), subscribeAddresses: [tcp(producerPort)], linger: 0 })
      )
      return { producer: producer.layer, consumer: consumer.layer }
    }),
  dedicated: () =>
    Effect.gen(function*() {
      const [pull, pub] = yield* Effect.promise(() => freePorts(2))
      yield* Layer.build(ZeroMQProxy.layer({ pullAddress: tcp(pull), publishAddress: tcp(pub), settle: 0 }))
      const options = { pushAddress: tcp(pull), subscribeAddress: tcp(pub), linger: 0 }
      const producer = yield* build(ZeroMQ.layerDedicated(options))
      const consumer = yield* build(ZeroMQ.layerDedicated(options))
      return { producer: producer.layer, consumer: consumer.layer }
    })
}

describe.each(["embedded", "dedicated"] as const)("%s: no slow-joiner loss", (mode) => {
  it.scopedLive("a message sent right after newChannel or groupAdd returned arrives, every time", () =>
    Effect.gen(function*() {
      const { consumer, producer } = yield* pairs[mode]()
      for (let i = 0; i < 30; i++) {
        const channel = yield* consumer.newChannel()
        yield* producer.send(channel, { type: "t.new", i })
        const member = yield* consumer.newChannel()
        yield* consumer.groupAdd(`fresh-${mode}-${i}`, member)
        yield* producer.groupSend(`fresh-${mode}-${i}`, { type: "t.group", i })
        expect(yield* consumer.receive(channel).pipe(Effect.timeout(2000))).toEqual({ type: "t.new", i })
        expect(yield* consumer.receive(member).pipe(Effect.timeout(2000))).toEqual({ type: "t.group", i })
      }
    }))
})

describe("held direct messages", () => {
  it.scopedLive("a publisher holds a direct message until the owner's subscription arrives", () =>
    Effect.gen(function*() {
      const [producerPort, consumerPort] = yield* Effect.promise(() => freePorts(2))
      // The consumer first, subscribed to a producer that is not there yet.
      const consumer = yield* build(
        ZeroMQ.layerEmbedded({ publishAddress: tcp(consumerPort), subscribeAddresses: [tcp(producerPort)], linger: 0 })
      )
      const channel = yield* consumer.layer.newChannel()
      const held = (yield* labelled(ZeroMQMetrics.messagesHeld)).count
      const producer = yield* build(ZeroMQ.layerEmbedded({ publishAddress: tcp(producerPort), settle: 0, linger: 0 }))
      yield* producer.layer.send(channel, { type: "t.held" })
      expect(yield* consumer.layer.receive(channel).pipe(Effect.timeout(3000))).toEqual({ type: "t.held" })
      expect((yield* labelled(ZeroMQMetrics.messagesHeld)).count).toBeGreaterThan(held)
    }))

  it.scopedLive("messages for a process that never subscribes, or that left, are dropped, counted and logged", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const [producerPort, consumerPort] = yield* Effect.promise(() => freePorts(2))
      const producerScope = yield* Scope.make()
      const producer = yield* Scope.extend(
        build(ZeroMQ.layerEmbedded({ publishAddress: tcp(producerPort), confirmTimeout: 300, settle: 0, linger: 0 })),
        producerScope
      ).pipe(Effect.provide(logs.layer))
      const unroutable = (yield* labelled(ZeroMQMetrics.messagesUnroutable)).count
      // A process that leaves.
      const consumerScope = yield* Scope.make()
      const consumer = yield* Scope.extend(
        build(ZeroMQ.layerEmbedded({
          publishAddress: tcp(consumerPort),
          subscribeAddresses: [tcp(producerPort)],
          linger: 0
        })),
        consumerScope
      )
      const channel = yield* consumer.layer.newChannel()
      yield* producer.layer.send(channel, { type: "t.first" })
      expect(yield* consumer.layer.receive(channel)).toEqual({ type: "t.first" })
      yield* Scope.close(consumerScope, Exit.void)
      yield* Effect.sleep(200) // the producer sees the unsubscription
      yield* producer.layer.send(channel, { type: "t.gone" })
      // A client id that no process has: held for confirmTimeout, then dropped.
      yield* producer.layer.send("x.NOBODYhereXX!abc", { type: "t.lost" })
      yield* Effect.sleep(500)
      expect((yield* labelled(ZeroMQMetrics.messagesUnroutable)).count).toBe(unroutable + 2)
      // Warnings are debounced (one line per kind and 10 seconds); closing logs what is left.
      yield* Scope.close(producerScope, Exit.void)
      const lines = logs.lines.filter((line) => line.includes("direct messages for processes that are not subscribed"))
      expect(lines.join("\n")).toContain("NOBODYhereXX (1)")
      expect(lines.join("\n")).toContain(`${channel.slice(channel.lastIndexOf(".") + 1, channel.indexOf("!"))} (1)`)
    }))
})

describe("received frames", () => {
  it.scopedLive("malformed frames and expired messages are dropped, counted and logged; the reader goes on", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const [rawPort, port] = yield* Effect.promise(() => freePorts(2))
      const raw = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const socket = new XPublisher({ linger: 0 })
          await socket.bind(tcp(rawPort))
          return socket
        }),
        (socket) => Effect.sync(() => socket.close())
      )
      const { layer, transport } = yield* build(
        ZeroMQ.layerEmbedded({ publishAddress: tcp(port), subscribeAddresses: [tcp(rawPort)], linger: 0 })
      ).pipe(Effect.provide(logs.layer))
      // The raw publisher does not acknowledge subscriptions; use a channel name of the layer's own.
      const channel = `raw.${transport.clientId}!abcdefghijkl`
      yield* Effect.promise(() => raw.receive()) // the layer's direct subscription arrived
      const topic = Buffer.from(`c:${transport.clientId}\u0000`, "latin1")
      const malformed = (yield* labelled(ZeroMQMetrics.messagesMalformed)).count
      const expired = (yield* labelled(Metrics.messagesExpired)).count
      yield* Effect.promise(async () => {
        await raw.send([topic, Buffer.from("not msgpack at all")])
        await raw.send([topic])
        await raw.send([topic, Codec.encode({ type: "t.old" }, { channel, expiresAt: Date.now() - 1000 })])
        await raw.send([topic, Codec.encode({ type: "t.fine" }, { channel, expiresAt: Date.now() + 60_000 })])
      })
      expect(yield* layer.receive(channel).pipe(Effect.timeout(2000))).toEqual({ type: "t.fine" })
      expect((yield* labelled(ZeroMQMetrics.messagesMalformed)).count).toBe(malformed + 2)
      expect((yield* labelled(Metrics.messagesExpired)).count).toBe(expired + 1)
      yield* Effect.sleep(400)
      expect(logs.text()).toMatch(/dropped 2 received frames that are not channel-layer messages/)
      expect(logs.text()).toMatch(/dropped 1 messages that expired before they arrived.*raw\./)
    }))
})
