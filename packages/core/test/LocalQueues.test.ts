import { LocalQueues } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Logger, Scope, TestClock } from "effect"

const message = (text: string) => ({ type: "chat.message", text })

/** Collects the warnings logged while the test runs. */
const captureWarnings = () => {
  const warnings: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
  return { warnings, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** An ack callback that counts its calls. */
const counter = () => {
  const ack = Object.assign(() => {
    ack.calls++
  }, { calls: 0 })
  return ack
}

describe("LocalQueues", () => {
  it.scoped("hands a direct delivery to a receiver and acks it", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const ack = counter()
      queues.unsafeDeliverDirect("c!1", message("hi"), queues.now() + 1000, "drop", ack)
      expect(queues.unacknowledged()).toBe(1)
      expect(ack.calls).toBe(0)
      expect(yield* queues.receive("c!1")).toStrictEqual(message("hi"))
      expect(ack.calls).toBe(1)
      expect(queues.unacknowledged()).toBe(0)
    }))

  it.scoped("a waiting receiver gets the next delivery at once", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const waiting = yield* Effect.fork(queues.receive("c!1"))
      yield* Effect.yieldNow()
      queues.unsafeDeliverDirect("c!1", message("hi"), queues.now() + 1000, "drop")
      expect(yield* Fiber.join(waiting)).toStrictEqual(message("hi"))
      expect(queues.size("c!1")).toBe(0)
    }))

  it.scoped("acks a group delivery only once every local member took it; members get copies", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      expect(queues.unsafeGroupAdd("room", "a!1")).toBe(true)
      expect(queues.unsafeGroupAdd("room", "b!1")).toBe(false)
      expect(queues.unsafeGroupAdd("room", "c!1")).toBe(false)
      expect(queues.unsafeGroupAdd("room", "c!1")).toBe(false)
      const ack = counter()
      const sent = { type: "t", list: [1] }
      expect(queues.unsafeDeliverGroup("room", sent, queues.now() + 1000, ack)).toBe(3)
      const a = yield* queues.receive("a!1")
      const b = yield* queues.receive("b!1")
      expect(ack.calls).toBe(0)
      const c = yield* queues.receive("c!1")
      expect(ack.calls).toBe(1)
      expect([a, b, c]).toStrictEqual([sent, sent, sent])
      expect(new Set([a, b, c]).size).toBe(3)
      expect(a.list).not.toBe(b.list)
    }))

  it.scoped("reference-counts group membership: first member binds, last member unbinds", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      expect(queues.unsafeGroupAdd("g", "a!1")).toBe(true)
      expect(queues.unsafeGroupAdd("g", "b!1")).toBe(false)
      expect(queues.unsafeGroupDiscard("g", "a!1")).toBe(false)
      expect(queues.unsafeGroupDiscard("g", "a!1")).toBe(false)
      expect(queues.groups()).toStrictEqual(["g"])
      expect(queues.unsafeGroupDiscard("g", "b!1")).toBe(true)
      expect(queues.groups()).toStrictEqual([])
      expect(queues.unsafeGroupDiscard("never", "b!1")).toBe(false)
    }))

  it.scoped("a group delivery without local members is acked at once", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const ack = counter()
      expect(queues.unsafeDeliverGroup("empty", message("x"), queues.now() + 1000, ack)).toBe(0)
      expect(ack.calls).toBe(1)
      expect(queues.unacknowledged()).toBe(0)
    }))

  it.scoped("drops expired deliveries on the clock, acks them and warns naming the channels", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const ack = counter()
      for (let i = 0; i < 3; i++) {
        queues.unsafeDeliverDirect("busy!1", message(`${i}`), queues.now() + 5000, "drop", ack)
      }
      queues.unsafeDeliverDirect("quiet!1", message("q"), queues.now() + 5000, "drop", ack)
      queues.unsafeDeliverDirect("late!1", message("l"), queues.now() + 60_000, "drop", ack)
      yield* TestClock.adjust(Duration.seconds(4))
      expect(ack.calls).toBe(0)
      yield* TestClock.adjust(Duration.seconds(2))
      expect(ack.calls).toBe(4)
      expect(queues.size("busy!1")).toBe(0)
      expect(queues.size("late!1")).toBe(1)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toBe(
        "local expiry: dropped 4 undelivered messages; expired per channel: busy!1 (3), quiet!1 (1); " +
          "biggest queues now: late!1 (1)"
      )
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a receive never returns an expired message, even before the sweep ran", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test", sweepInterval: Duration.hours(1) })
      queues.unsafeDeliverDirect("c!1", message("old"), queues.now() + 1000, "drop")
      queues.unsafeDeliverDirect("c!1", message("new"), queues.now() + 10_000, "drop")
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* queues.receive("c!1")).toStrictEqual(message("new"))
    }))

  it.scoped("debounces warnings: at most one of a kind per warningInterval", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test", warningInterval: Duration.seconds(10) })
      for (let second = 0; second < 25; second++) {
        queues.unsafeDeliverDirect("c!1", message(`${second}`), queues.now() + 500, "drop")
        yield* TestClock.adjust(Duration.seconds(1))
      }
      expect(warnings.filter((w) => w.startsWith("local expiry"))).toHaveLength(3)
    }).pipe(Effect.provide(layer))
  })

  it.scoped("reports back-pressure when localCapacity deliveries await receivers", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test", localCapacity: 2 })
      queues.unsafeDeliverDirect("slow!1", message("1"), queues.now() + 60_000, "drop", () => {})
      yield* TestClock.adjust(Duration.seconds(1))
      expect(warnings).toStrictEqual([])
      queues.unsafeDeliverDirect("slow!1", message("2"), queues.now() + 60_000, "drop", () => {})
      yield* TestClock.adjust(Duration.seconds(1))
      expect(warnings).toStrictEqual([
        "back-pressure: up to 2 deliveries awaited receivers (localCapacity 2); the broker pauses until they are " +
        "received or expire; biggest queues now: slow!1 (2)"
      ])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a full channel rejects or drops with a count and a warning", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test", channelCapacity: () => 1 })
      const ack = counter()
      expect(queues.unsafeDeliverDirect("c!1", message("1"), queues.now() + 9000, "reject", ack)).toBe(true)
      expect(queues.unsafeDeliverDirect("c!1", message("2"), queues.now() + 9000, "reject", ack)).toBe(false)
      expect(ack.calls).toBe(1)
      expect(warnings).toStrictEqual([])
      queues.unsafeGroupAdd("g", "c!1")
      queues.unsafeGroupAdd("g", "d!1")
      expect(queues.unsafeDeliverGroup("g", message("3"), queues.now() + 9000, ack)).toBe(1)
      expect(queues.unsafeDeliverDirect("c!1", message("4"), queues.now() + 9000, "drop", ack)).toBe(true)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(warnings).toStrictEqual(["channel full: dropped 2 messages for full channels: c!1 (2)"])
      expect(yield* queues.receive("c!1")).toStrictEqual(message("1"))
      expect(yield* queues.receive("d!1")).toStrictEqual(message("3"))
    }).pipe(Effect.provide(layer))
  })

  it.scoped("an interrupted receive leaves the message for the next receiver", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const abandoned = yield* Effect.fork(queues.receive("c!1"))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(abandoned)
      queues.unsafeDeliverDirect("c!1", message("kept"), queues.now() + 1000, "drop")
      expect(yield* queues.receive("c!1")).toStrictEqual(message("kept"))
    }))

  it.scoped("messages sent while a receive's fiber is being interrupted go to the next receive, in order", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      // The interrupt is on its way when the messages arrive: "first" is handed to the receive,
      // whose fiber is interrupted before it takes it (and stays in a finalizer until `release`);
      // "first" must come back ahead of "second".
      const release = yield* Deferred.make<void>()
      const abandoned = yield* Effect.fork(
        queues.receive("c!1").pipe(Effect.onInterrupt(() => Deferred.await(release)))
      )
      yield* Effect.yieldNow()
      const interrupting = yield* Effect.fork(Fiber.interrupt(abandoned))
      yield* Effect.yieldNow()
      const ack = counter()
      queues.unsafeDeliverDirect("c!1", message("first"), queues.now() + 1000, "drop", ack)
      queues.unsafeDeliverDirect("c!1", message("second"), queues.now() + 1000, "drop")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      expect(yield* queues.receive("c!1")).toStrictEqual(message("first"))
      expect(yield* queues.receive("c!1")).toStrictEqual(message("second"))
      expect(ack.calls).toBe(1)
      expect(queues.stats()).toStrictEqual({ channels: 0, groups: 0, buffered: 0, unacknowledged: 0 })
    }))

  it.scoped("flush drops and acks every buffered delivery and membership", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      const ack = counter()
      queues.unsafeGroupAdd("g", "a!1")
      queues.unsafeGroupAdd("g", "b!1")
      queues.unsafeDeliverGroup("g", message("x"), queues.now() + 1000, ack)
      queues.unsafeFlush()
      expect(ack.calls).toBe(1)
      expect(queues.groups()).toStrictEqual([])
      expect(queues.size("a!1")).toBe(0)
    }))

  it.effect("closing the scope ends pending receives with LayerClosed and acks later deliveries", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const queues = yield* Scope.extend(LocalQueues.make({ transport: "test" }), scope)
      const pending = yield* Effect.fork(queues.receive("c!1"))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.flip(Fiber.join(pending))).toMatchObject({ _tag: "LayerClosed" })
      expect(yield* Effect.flip(queues.receive("c!1"))).toMatchObject({ _tag: "LayerClosed" })
      const ack = counter()
      queues.unsafeDeliverDirect("c!1", message("late"), 0, "drop", ack)
      expect(ack.calls).toBe(1)
      expect(queues.isClosed()).toBe(true)
    }))

  it.scoped("forgets idle channels, so memory does not grow with the number of channels used", () =>
    Effect.gen(function*() {
      const queues = yield* LocalQueues.make({ transport: "test" })
      for (let i = 0; i < 1000; i++) {
        queues.unsafeDeliverDirect(`c!${i}`, message("x"), queues.now() + 1000, "drop")
      }
      expect(queues.stats()).toStrictEqual({ channels: 1000, groups: 0, buffered: 1000, unacknowledged: 0 })
      for (let i = 0; i < 1000; i++) yield* queues.receive(`c!${i}`)
      const waiting = yield* Effect.fork(queues.receive("w!1"))
      yield* Effect.yieldNow()
      expect(queues.stats()).toStrictEqual({ channels: 1, groups: 0, buffered: 0, unacknowledged: 0 })
      yield* Fiber.interrupt(waiting)
      expect(queues.stats().channels).toBe(0)
    }))
})
