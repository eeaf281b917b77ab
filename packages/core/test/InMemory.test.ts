import { ChannelLayer, Consumer, InMemory, Metrics, TypedChannel } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Schema,
  Scope,
  Stream,
  TestClock,
  Tracer
} from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

const layer = (options: InMemory.InMemoryOptions = {}) => InMemory.layer(options)

/** The heap in use after full garbage collections. */
const heapAfterGc = Effect.promise(async () => {
  setFlagsFromString("--expose-gc")
  const gc = runInNewContext("gc") as () => void
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
})

describe("InMemory", () => {
  it.scopedLive("flush drops every message and membership (InMemoryFlush, a service of the in-memory layer only)", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const { flush } = yield* InMemory.InMemoryFlush
      const channel = yield* channels.newChannel()
      yield* channels.send(channel, { type: "gone" })
      yield* channels.groupAdd("flushed", channel)
      yield* flush
      yield* channels.groupSend("flushed", { type: "nobody" })
      yield* channels.send(channel, { type: "after" })
      expect(yield* channels.receive(channel)).toEqual({ type: "after" })
      const nothing = yield* channels.receive(channel).pipe(Effect.timeout("50 millis"), Effect.option)
      expect(nothing._tag).toBe("None")
    }).pipe(Effect.provide(layer())))

  it.scoped("counts sent messages: each accepted send and group send once, a ChannelFull send not", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const sent = Metrics.messagesSent.pipe(Metric.taggedWithLabels(Metrics.transportLabel("memory")))
      const before = (yield* Metric.value(sent)).count
      yield* channels.send("c", { type: "one" })
      yield* channels.groupAdd("g", "c")
      yield* channels.groupAdd("g", "d")
      yield* channels.groupSend("g", { type: "two" })
      expect((yield* Effect.flip(channels.send("c", { type: "three" })))._tag).toBe("ChannelFull")
      expect((yield* Metric.value(sent)).count - before).toBe(2)
    }).pipe(Effect.provide(layer({ capacity: 2 }))))

  it.scoped("makes a span per send, group send and receive when a tracer is installed, none otherwise", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const spans: Array<Tracer.Span> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = native.span(name, parent, context, links, startTime, kind, options)
          spans.push(span)
          return span
        },
        context: (f) => f()
      })
      yield* channels.send("c", { type: "untraced" })
      yield* channels.receive("c")
      expect(spans).toEqual([])
      yield* Effect.gen(function*() {
        yield* channels.send("c", { type: "traced" })
        yield* channels.groupAdd("g", "c")
        yield* channels.groupSend("g", { type: "traced" })
        yield* channels.receive("c")
      }).pipe(Effect.withTracer(recording))
      expect(spans.map((span) => [span.name, span.kind, Object.fromEntries(span.attributes)])).toEqual([
        ["ChannelLayer.send", "producer", { transport: "memory", channel: "c" }],
        ["ChannelLayer.groupSend", "producer", { transport: "memory", group: "g" }],
        ["ChannelLayer.receive", "consumer", { transport: "memory", channel: "c" }]
      ])
    }).pipe(Effect.provide(layer())))

  it.scoped("expires messages on the Clock (TestClock)", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      yield* channels.send("c", { type: "old" })
      yield* TestClock.adjust(Duration.seconds(59))
      yield* channels.send("c", { type: "newer" })
      yield* TestClock.adjust(Duration.seconds(2))
      expect((yield* channels.receive("c")).type).toBe("newer")
    }).pipe(Effect.provide(layer())))

  it.scoped("expires group memberships after groupExpiry unless renewed", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      yield* channels.groupAdd("g", "stale")
      yield* channels.groupAdd("g", "renewed")
      yield* TestClock.adjust(Duration.seconds(50))
      yield* channels.groupAdd("g", "renewed")
      yield* TestClock.adjust(Duration.seconds(50))
      yield* channels.groupSend("g", { type: "hello" })
      expect((yield* channels.receive("renewed")).type).toBe("hello")
      const stale = yield* Effect.fork(channels.receive("stale"))
      yield* TestClock.adjust(Duration.seconds(1))
      expect(stale.unsafePoll()).toBeNull()
    }).pipe(Effect.provide(layer({ groupExpiry: Duration.seconds(90), expiry: Duration.hours(1) }))))

  it.effect("rejects bad options with InvalidOptions saying what is allowed", () =>
    Effect.gen(function*() {
      const build = (options: InMemory.InMemoryOptions) => Effect.flip(Effect.scoped(Layer.build(layer(options))))
      expect((yield* build({ capacity: 0 })).message).toBe("invalid option capacity: must be a positive integer, got 0")
      expect((yield* build({ capacity: 1.5 }))._tag).toBe("InvalidOptions")
      expect((yield* build({ expiry: -1 })).message).toMatch(/invalid option expiry: must be a positive, finite/)
      expect((yield* build({ channelCapacity: { "x*": -2 } })).message).toBe(
        "invalid option channelCapacity[x*]: must be a positive integer, got -2"
      )
      expect((yield* build({ groupExpiry: "soon" as any })).message).toMatch(/must be a Duration/)
    }))

  it.scoped("newChannel rejects a prefix that cannot start a channel name", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      expect(yield* channels.newChannel("chat")).toMatch(/^chat\.inmemory![a-zA-Z]{12}$/)
      expect((yield* Effect.flip(channels.newChannel("bad prefix")))._tag).toBe("InvalidChannelName")
    }).pipe(Effect.provide(layer())))

  it.scoped("messages(channel) streams until the layer closes", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      yield* channels.send("s", { type: "a" })
      yield* channels.send("s", { type: "b" })
      const firstTwo = yield* ChannelLayer.messages("s").pipe(Stream.take(2), Stream.runCollect)
      expect(Chunk.toArray(firstTwo).map((m) => m.type)).toStrictEqual(["a", "b"])
    }).pipe(Effect.provide(layer())))

  it.live("messages(channel) ends cleanly when the layer closes, with what arrived before", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(layer(), scope)
      const channels = Context.get(context, ChannelLayer.ChannelLayer)
      const streaming = yield* ChannelLayer.messages("s").pipe(
        Stream.runCollect,
        Effect.provide(context),
        Effect.fork
      )
      yield* channels.send("s", { type: "before-close" })
      yield* Effect.sleep(Duration.millis(20))
      yield* Scope.close(scope, Exit.void)
      // The stream ends (a success, not a LayerClosed failure) once the layer is closed.
      const ended = yield* Fiber.join(streaming).pipe(Effect.timeout(Duration.seconds(5)), Effect.exit)
      expect(Exit.isSuccess(ended) && Chunk.toArray(ended.value).map((m) => m.type)).toStrictEqual(["before-close"])
    }))

  it.scoped("a typed view encodes on send and decodes on receive, with typed errors", () =>
    Effect.gen(function*() {
      const ChatMessage = Schema.Struct({
        type: Schema.Literal("chat.message"),
        text: Schema.String.pipe(Schema.maxLength(20)),
        sentAt: Schema.DateFromNumber
      })
      const chat = TypedChannel.make(ChatMessage)
      const at = new Date(1_700_000_000_000)
      yield* chat.send("typed", { type: "chat.message", text: "hi", sentAt: at })
      expect(yield* chat.receive("typed")).toStrictEqual({ type: "chat.message", text: "hi", sentAt: at })
      const channels = yield* ChannelLayer.ChannelLayer
      yield* channels.send("typed", { type: "chat.message", text: 42 })
      const decodeError = yield* Effect.flip(chat.receive("typed"))
      expect(decodeError._tag).toBe("MessageDecodeError")
      expect(decodeError.message).toMatch(/text/)
      const encodeError = yield* Effect.flip(
        chat.send("typed", { type: "chat.message", text: "x".repeat(21), sentAt: at })
      )
      expect(encodeError._tag).toBe("InvalidMessage")
      expect(encodeError.message).toMatch(/at most 20 character/)
    }).pipe(Effect.provide(layer())))

  it.scoped("the consumer dispatches chat.message to chat_message, and fails on an unknown type", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const seen: Array<string> = []
      yield* channels.send("consumer", { type: "chat.message", text: "1" })
      yield* channels.send("consumer", { type: "user.joined", who: "ann" })
      yield* channels.send("consumer", { type: "nobody.handles.this" })
      const result = yield* Consumer.run("consumer", {
        chat_message: (message) => Effect.sync(() => seen.push(`chat ${message.text}`)),
        user_joined: (message) => Effect.sync(() => seen.push(`joined ${message.who}`))
      }).pipe(Effect.flip)
      expect(seen).toStrictEqual(["chat 1", "joined ann"])
      expect(result).toMatchObject({ _tag: "NoHandler", type: "nobody.handles.this", handler: "nobody_handles_this" })
      expect(Consumer.handlerName("websocket.send")).toBe("websocket_send")
      const hidden = yield* Effect.flip(Consumer.dispatch({ _private: () => Effect.void })({ type: ".private" }))
      expect(hidden._tag).toBe("NoHandler")
    }).pipe(Effect.provide(layer())))

  it.scoped("keeps nothing of a group whose last member was discarded", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const churn = (from: number) =>
        Effect.gen(function*() {
          for (let i = from; i < from + 100_000; i++) {
            yield* channels.groupAdd(`g${i}`, "c")
            yield* channels.groupDiscard(`g${i}`, "c")
          }
        })
      yield* churn(0) // warm-up: whatever is allocated once (caches, compiled code) is there before
      const before = yield* heapAfterGc
      yield* churn(100_000)
      const grown = (yield* heapAfterGc) - before
      // A record kept per group costs some 24 MiB per 100,000 groups; none should be left.
      expect(grown).toBeLessThan(4 * 1024 * 1024)
    }).pipe(Effect.provide(layer())), 60_000)

  it.scoped("a receive blocked on an empty channel is woken by a group send", () =>
    Effect.gen(function*() {
      const channels = yield* ChannelLayer.ChannelLayer
      const waiting = yield* Effect.fork(channels.receive("w"))
      yield* channels.groupAdd("wake", "w")
      yield* channels.groupSend("wake", { type: "up" })
      expect((yield* Fiber.join(waiting)).type).toBe("up")
    }).pipe(Effect.provide(layer())))
})
