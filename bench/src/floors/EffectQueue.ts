/**
 * The in-memory floor: a bare Effect `Queue.bounded(100)` with one producer fiber offering the
 * message objects and one consumer fiber taking them. No copying, no validation, no names.
 * @since 0.1.0
 */
import { Effect, Fiber, Queue } from "effect"
import { performance } from "node:perf_hooks"
import type { BenchMessage } from "../Message.js"
import type { ThroughputFloor } from "../Scenario.js"

/**
 * Timed rounds of the in-memory measurements (a round of 20,000 takes milliseconds, so one round
 * alone is noise); the median is reported. Transports compared with this floor should use the same.
 * @since 0.1.0
 * @category constants
 */
export const rounds = 20

/**
 * Untimed full-size rounds (of the floor and of the transport) before the timed ones: the first
 * rounds run on an Effect runtime the JIT has not optimised yet, and with one warm-up round the
 * floor measured 1.2M to 1.8M msg/s in consecutive runs.
 * @since 0.1.0
 * @category constants
 */
export const warmupRounds = 5

const oneRound = (messages: ReadonlyArray<BenchMessage>) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<BenchMessage>(100)
    const n = messages.length
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      for (let i = 1; i <= n; i++) yield* Queue.take(queue)
    }))
    const start = performance.now()
    const producer = yield* Effect.fork(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Queue.offer(queue, messages[i])
    }))
    yield* Fiber.join(producer)
    yield* Fiber.join(consumer)
    const elapsedMs = performance.now() - start
    yield* Queue.shutdown(queue)
    return elapsedMs
  })

/**
 * The in-memory floor, a round at a time: messages per second through `Queue.bounded(100)`. It has
 * one producer whatever the window (the in-memory layer's sends complete at once).
 * @since 0.1.0
 * @category floors
 */
export const floor: ThroughputFloor = {
  transport: "effect-queue",
  description: "bare Effect Queue.bounded(100), producer fiber offering, consumer fiber taking",
  open: () => Effect.succeed((messages) => oneRound(messages))
}
