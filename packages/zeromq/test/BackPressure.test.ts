// Back-pressure made visible: when the sending socket cannot hand a message on (a subscriber that
// does not read, the high-water marks reached), `send` waits `sendTimeout` and fails with
// ChannelFull, counted and logged; with the proxy down, it fails with ConnectionClosed.
import { Metrics } from "@channel-layer/core"
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric, Schedule } from "effect"
import { Subscriber } from "zeromq"
import { build, captureLogs } from "./support/layers.js"
import { freePorts, tcp } from "./support/ports.js"

const stuckClient = "STUCKclientX"
const stuckChannel = `stuck.${stuckClient}!abcdef`
const big = { type: "t.big", payload: new Uint8Array(64 * 1024) }

const rejectedFull = Metric.value(
  Metric.taggedWithLabels(Metrics.messagesRejectedFull, Metrics.transportLabel("zeromq"))
)

/** A raw SUB socket subscribed to the stuck client's direct topic that never reads. */
const stuckSubscriber = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sub = new Subscriber({ receiveHighWaterMark: 1, receiveBufferSize: 4096, linger: 0 })
      sub.connect(endpoint)
      sub.subscribe(`c:${stuckClient}\u0000`)
      await sub.receive() // the publisher's acknowledgement: the subscription is live
      return sub
    }),
    (sub) => Effect.sync(() => sub.close())
  )

/**
 * Two embedded layers, the consumer subscribed to the producer, its channels holding 5 messages;
 * `logger` (a logging layer) is given to the consumer only.
 */
const producerAndSmallConsumer = (
  consumerOptions: Partial<ZeroMQ.EmbeddedOptions> = {},
  logger: Layer.Layer<never> = Layer.empty
) =>
  Effect.gen(function*() {
    const [producerPort, consumerPort] = yield* Effect.promise(() => freePorts(2))
    const producer = yield* build(ZeroMQ.layerEmbedded({ publishAddress: tcp(producerPort), linger: 0 }))
    const consumer = yield* build(ZeroMQ.layerEmbedded({
      publishAddress: tcp(consumerPort),
      subscribeAddresses: [tcp(producerPort)],
      capacity: 5,
      linger: 0,
      ...consumerOptions
    })).pipe(Effect.provide(logger))
    return { producer, consumer }
  })

/** Sends until a send fails; returns how many went through and the failure. */
const sendUntilFailure = (send: () => Effect.Effect<void, any>, limit: number) =>
  Effect.gen(function*() {
    for (let sent = 0; sent < limit; sent++) {
      const result = yield* Effect.either(send())
      if (result._tag === "Left") return { sent, error: result.left }
    }
    return { sent: limit, error: undefined }
  })

describe("back-pressure", () => {
  it.scopedLive("embedded: a subscriber that does not read makes send fail with ChannelFull, counted and logged", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const [port] = yield* Effect.promise(() => freePorts(1))
      const { layer } = yield* build(
        ZeroMQ.layerEmbedded({
          publishAddress: tcp(port),
          sendHighWaterMark: 5,
          sendTimeout: 200,
          settle: 0,
          linger: 0
        })
      ).pipe(Effect.provide(logs.layer))
      yield* stuckSubscriber(tcp(port))
      const before = (yield* rejectedFull).count
      const started = Date.now()
      const { error, sent } = yield* sendUntilFailure(() => layer.send(stuckChannel, big), 2000)
      expect(error).toMatchObject({ _tag: "ChannelFull", channel: stuckChannel })
      expect(sent).toBeLessThan(2000)
      expect(Date.now() - started).toBeGreaterThanOrEqual(200) // it waited sendTimeout first
      expect((yield* rejectedFull).count).toBeGreaterThan(before)
      yield* Effect.sleep(400) // the warning is debounced
      expect(logs.text()).toMatch(
        /back-pressure: \d+ sends failed with ChannelFull because the PUB socket is at its high-water mark.*stuck\.STUCKclientX!abcdef/
      )
    }))

  it.scopedLive("dedicated: with the proxy down, sends queue up to the high-water mark, then fail with ConnectionClosed", () =>
    Effect.gen(function*() {
      const [pull, pub] = yield* Effect.promise(() => freePorts(2))
      const { layer } = yield* build(
        ZeroMQ.layerDedicated({
          pushAddress: tcp(pull),
          subscribeAddress: tcp(pub),
          sendHighWaterMark: 5,
          sendTimeout: 100,
          confirmTimeout: 500,
          linger: 0
        })
      )
      const { error, sent } = yield* sendUntilFailure(() => layer.send(stuckChannel, { type: "t.queued" }), 100)
      expect(sent).toBeGreaterThanOrEqual(5)
      expect(sent).toBeLessThan(100)
      expect(error).toMatchObject({ _tag: "ConnectionClosed" })
      expect(error.message).toMatch(/the proxy at tcp:\/\/127\.0\.0\.1:\d+ is unreachable and 5 messages wait for it/)
      const newChannel = yield* Effect.flip(layer.newChannel())
      expect(newChannel._tag).toBe("ConnectionClosed")
      expect(newChannel.message).toMatch(/no confirmation within 500 ms that the subscription reached the proxy/)
      // A group send never fails with ChannelFull; with the proxy down it fails with ConnectionClosed.
      expect((yield* Effect.flip(layer.groupSend("room", { type: "t.group" })))._tag).toBe("ConnectionClosed")
    }))

  it.scopedLive("dedicated: a stuck subscriber of the proxy pushes back to the sender, which fails with ChannelFull", () =>
    Effect.gen(function*() {
      const [pull, pub] = yield* Effect.promise(() => freePorts(2))
      // The proxy's and the layer's warnings are expected: kept, the back-pressure one asserted.
      const logs = captureLogs()
      yield* Layer.build(
        ZeroMQProxy.layer({
          pullAddress: tcp(pull),
          publishAddress: tcp(pub),
          sendHighWaterMark: 5,
          receiveHighWaterMark: 5,
          settle: 0,
          linger: 0
        }).pipe(Layer.provide(logs.layer))
      )
      yield* stuckSubscriber(tcp(pub))
      const { layer } = yield* build(
        ZeroMQ.layerDedicated({
          pushAddress: tcp(pull),
          subscribeAddress: tcp(pub),
          sendHighWaterMark: 5,
          sendTimeout: 200,
          linger: 0
        }).pipe(Layer.provide(logs.layer))
      )
      const { error, sent } = yield* sendUntilFailure(() => layer.send(stuckChannel, big), 2000)
      expect(error).toMatchObject({ _tag: "ChannelFull", channel: stuckChannel })
      expect(sent).toBeLessThan(2000)
      // The warning is debounced: it comes within a warning interval.
      const warning =
        /back-pressure: \d+ sends failed with ChannelFull because the PUSH socket is at its high-water mark/
      yield* Effect.sync(() => warning.test(logs.text())).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (seen) => seen }),
        Effect.timeout("5 seconds")
      )
      expect(logs.text()).toMatch(warning)
    }))

  it.scopedLive("a slow receiver in another process slows the sender down instead of losing messages", () =>
    Effect.gen(function*() {
      const { consumer, producer } = yield* producerAndSmallConsumer()
      const channel = yield* consumer.layer.newChannel()
      const receiving = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 300 }, () => consumer.layer.receive(channel).pipe(Effect.zipLeft(Effect.sleep(1)))),
        (receive) => receive
      ))
      for (let i = 0; i < 300; i++) yield* producer.layer.send(channel, { type: "t.seq", i })
      const received = yield* Fiber.join(receiving)
      expect(received.map((message) => message.i)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    }))

  it.scopedLive("a channel that stays full is given up on after fullChannelTimeout: dropped for, counted and logged", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const { consumer, producer } = yield* producerAndSmallConsumer({ fullChannelTimeout: 300 }, logs.layer)
      const [stuck, alive] = [yield* consumer.layer.newChannel(), yield* consumer.layer.newChannel()]
      for (let i = 0; i < 20; i++) yield* producer.layer.send(stuck, { type: "t.seq", i })
      yield* producer.layer.send(alive, { type: "t.alive" })
      // Reading stops while the stuck channel is full, for fullChannelTimeout, then goes on.
      const started = Date.now()
      expect(yield* consumer.layer.receive(alive).pipe(Effect.timeout(3000))).toEqual({ type: "t.alive" })
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      const kept = []
      for (let i = 0; i < 5; i++) kept.push((yield* consumer.layer.receive(stuck)).i)
      expect(kept).toEqual([0, 1, 2, 3, 4])
      // Room again: the channel is back.
      yield* producer.layer.send(stuck, { type: "t.back" })
      expect(yield* consumer.layer.receive(stuck).pipe(Effect.timeout(3000))).toEqual({ type: "t.back" })
      yield* Effect.sleep(400)
      expect(logs.text()).toMatch(/1 channels stayed full for fullChannelTimeout: their messages are dropped/)
      expect(logs.text()).toMatch(/channel full: dropped 15 messages for full channels/)
    }))
})
