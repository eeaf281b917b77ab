/**
 * The in-memory floor: a bare Effect `Queue.bounded(100)` with one producer fiber offering the
 * message objects and one consumer fiber taking them. No copying, no validation, no names.
 * @since 0.1.0
 */
import { Effect, Fiber, Queue } from "effect"
import { performance } from "node:perf_hooks"
import type { BenchMessage } from "../Message.js"
import { makeMessages, messageBytes } from "../Message.js"
import type { Scenario, ScenarioContext } from "../Scenario.js"
import { throughput } from "../Scenario.js"
import { median, rate } from "../Stats.js"

/**
 * Scenario name of the in-memory floor.
 * @since 0.1.0
 * @category names
 */
export const name = "floor-effect-queue"

/**
 * Timed rounds of the in-memory measurements (a round of 20,000 takes milliseconds, so one round
 * alone is noise); the median is reported. Transports compared with this floor should use the same.
 * @since 0.1.0
 * @category constants
 */
export const rounds = 20

/**
 * Untimed full-size rounds before the timed ones. The floor runs first in a run, on an Effect
 * runtime the JIT has not optimised yet: with one warm-up round it measured 1.2M to 1.8M msg/s
 * in consecutive runs, so it warms up as long as the transports that come after it.
 * @since 0.1.0
 * @category constants
 */
export const warmupRounds = 5

const oneRound = (messages: ReadonlyArray<BenchMessage>, context: ScenarioContext) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<BenchMessage>(100)
    const n = messages.length
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      for (let i = 1; i <= n; i++) {
        yield* Queue.take(queue)
        context.progress(i, n)
      }
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
 * The in-memory floor scenario: messages per second through `Queue.bounded(100)`.
 * @since 0.1.0
 * @category scenarios
 */
export const scenario: Scenario = {
  name,
  description: "bare Effect Queue.bounded(100), producer fiber offering, consumer fiber taking",
  run: (context) =>
    Effect.gen(function*() {
      const { count } = context.config
      const messages = makeMessages(count)
      for (let r = 1; r <= warmupRounds; r++) {
        context.phase(`warm-up ${r}/${warmupRounds}`)
        yield* oneRound(messages, context)
      }
      const elapsed: Array<number> = []
      for (let r = 1; r <= rounds; r++) {
        context.phase(`round ${r}/${rounds}`)
        elapsed.push(yield* oneRound(messages, context))
      }
      const elapsedMs = median(elapsed)
      return {
        measurements: [throughput(name, "effect-queue", rate(count, elapsedMs))],
        details: { count, messageBytes, rounds, elapsedMs, roundsMs: elapsed }
      }
    })
}
