/**
 * How a transport plugs into the point-to-point scenarios: implement a {@link PointToPointAdapter}
 * (usually with `ChannelLayerAdapter.make`) and {@link scenarios} turns it into three scenarios,
 * each compared with a floor of the same run:
 * - `p2p-<transport>-w1`: each send waits for the previous one (floor: publish, await confirm)
 * - `p2p-<transport>-w100`: 100 sends in flight (floor: pipelined confirms)
 * - `latency-<transport>`: send-to-delivery latency at a fixed rate
 *
 * The throughput scenarios measure their floor themselves, a floor round next to each of their
 * rounds (see `ThroughputFloor`); the latency scenario is compared with a floor scenario.
 * @since 0.1.0
 */
import { Effect, Fiber, Schedule } from "effect"
import type { Scope } from "effect"
import { performance } from "node:perf_hooks"
import * as GcPauses from "./GcPauses.js"
import type { BenchMessage } from "./Message.js"
import { makeMessages, messageBytes } from "./Message.js"
import type * as PythonPeer from "./PythonPeer.js"
import type { BenchConfig, Measurement, Scenario, ScenarioContext, Target, ThroughputFloor } from "./Scenario.js"
import { latency, throughput, warmupPhase } from "./Scenario.js"
import * as SenderPool from "./SenderPool.js"
import type { LatencySummary } from "./Stats.js"
import { LatencyRecorder, median, paced, rate } from "./Stats.js"

/**
 * A sender and a receiver of one transport, on separate connections (separate layer instances),
 * with the receiver's channel already created.
 * @since 0.1.0
 * @category models
 */
export interface PointToPointSession {
  /**
   * Sends one message to the receiver's channel. Completes when the transport accepted it (for
   * RabbitMQ: confirmed). The harness keeps 1 or 100 of these in flight.
   */
  readonly send: (message: BenchMessage) => Effect.Effect<void, unknown>
  /** Takes the next message delivered to the receiver's channel. */
  readonly receive: Effect.Effect<BenchMessage, unknown>
  /** Counters worth keeping with the results (retries, reconnects, ...), read after each run. */
  readonly details?: Effect.Effect<Record<string, unknown>>
}

/**
 * The floors a transport is compared with (from `floors/`).
 * @since 0.1.0
 * @category models
 */
export interface PointToPointFloors {
  /** The throughput floor, run with the same window as the transport. */
  readonly throughput: ThroughputFloor
  /** Scenario name of the fixed-rate latency floor of the same library (the ratio column). */
  readonly latency?: string
  /**
   * Scenario name of the latency floor the p99 target is relative to. The project bounds every
   * transport by raw amqplib's p99 plus 1 ms; without one the latency has no target.
   */
  readonly latencyTarget?: string
  /**
   * Another implementation of the same transport, run in rounds interleaved with the transport's
   * own and compared with them: the Python layer for RabbitMQ (see `PythonPeer`).
   */
  readonly peer?: Peer
}

/**
 * Another implementation the rows compare with, run by the same scenarios. `open` starts it in
 * the scenario's scope, or says why it cannot run on this machine (its rows then say so).
 * @since 0.2.0
 * @category models
 */
export interface Peer {
  readonly label: string
  readonly open: (config: BenchConfig) => Effect.Effect<PythonPeer.Availability, never, Scope.Scope>
}

/**
 * The project's targets against the peer (the Python layer): at least twice its point-to-point
 * rate at window 1, never slower at window 100, a p99 at or below its p99 with a fiber per send
 * (the way an application sends), three times its fan-out rate.
 * @since 0.2.0
 * @category constants
 */
export const peerTargets = { window1: 2, window100: 1, latencySlackMs: 0, fanout: 3 } as const

/**
 * Rates of the latency runs with a fiber per send when a peer runs them too (messages a second);
 * without a peer, the run's own rate alone.
 * @since 0.2.0
 * @category constants
 */
export const peerLatencyRates = [500, 1_000] as const

/**
 * A transport plugged into the point-to-point and latency scenarios.
 * @since 0.1.0
 * @category models
 */
export interface PointToPointAdapter {
  /** The transport's label in the table and in scenario names: `in-memory`, `rabbitmq`, `zeromq-embedded` ... */
  readonly transport: string
  /** The floors of the same run this transport is compared with. */
  readonly floors: PointToPointFloors
  /** Minimum throughput as a ratio of the floor (RabbitMQ 0.9, ZeroMQ 0.8, in-memory 0.5); none when absent. */
  readonly targetRatio?: number
  /** p99 latency may exceed the floor's p99 by at most this many milliseconds (the project's target: 1). */
  readonly latencySlackMs?: number
  /** Timed throughput rounds, each next to a round of the floor; medians reported. Default 3. */
  readonly rounds?: number
  /** Untimed rounds of each before the timed ones (full-size; 1 means a round of `warmup` messages). Default 1. */
  readonly warmupRounds?: number
  /**
   * Creates the sender and the receiver on separate connections and the receiver's channel.
   * Everything it opens is closed when the scope closes. Called once per scenario.
   */
  readonly setup: Effect.Effect<PointToPointSession, unknown, Scope.Scope>
}

/**
 * Sender fibers of the latency runs: this many sends may wait for their transport at once before a
 * due message waits for a sender (its latency then counts the wait).
 * @since 0.1.0
 * @category constants
 */
export const LATENCY_SENDERS = 64

/**
 * Window sizes of the point-to-point scenarios.
 * @since 0.1.0
 * @category constants
 */
export const windows = [1, 100] as const

/**
 * Moves `messages` through the session with `window` sends in flight; milliseconds from the first
 * send to the last delivery.
 * @since 0.1.0
 * @category runs
 */
export const runWindowed = (
  session: PointToPointSession,
  messages: ReadonlyArray<BenchMessage>,
  window: number,
  progress: (done: number, total: number) => void
): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    const n = messages.length
    let received = 0
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      for (let i = 1; i <= n; i++) {
        yield* session.receive
        received = i
        progress(i, n)
      }
      return performance.now()
    }))
    // `window` workers, each sending the next message once its previous send completed: at most
    // `window` sends in flight, in order of start, without a fiber per message.
    let next = 0
    const worker = Effect.whileLoop({
      while: () => next < n,
      body: () => session.send(messages[next++]),
      step: () => {}
    })
    const start = performance.now()
    yield* Effect.all(Array.from({ length: Math.min(window, n) }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
    const lastDelivery = yield* awaitDeliveries(consumer, () => received, n)
    return Math.max(lastDelivery, performance.now()) - start
  })

/**
 * How long the harness waits without a new delivery, once every send completed, before it gives
 * up on the missing messages (a transport that drops, instead of hanging until the timeout).
 * @since 0.1.0
 * @category constants
 */
export const STALL_MS = 5_000

/** Joins the consumer, or fails naming how many messages never arrived once deliveries stall. */
const awaitDeliveries = <A, E>(consumer: Fiber.Fiber<A, E>, received: () => number, total: number) =>
  Effect.gen(function*() {
    for (;;) {
      const before = received()
      const done = yield* Fiber.join(consumer).pipe(Effect.timeout(STALL_MS), Effect.option)
      if (done._tag === "Some") return done.value
      if (received() === before) {
        yield* Fiber.interrupt(consumer)
        return yield* Effect.fail(
          new Error(`${total - before} of ${total} messages never arrived (none for ${STALL_MS / 1000} s)`)
        )
      }
    }
  })

/**
 * The note of a scenario whose peer could not run.
 * @since 0.2.0
 * @category constructors
 */
export const peerUnavailable = (label: string | undefined, reason: string): string => `${label} rows not run: ${reason}`

const throughputScenario = (adapter: PointToPointAdapter, window: 1 | 100): Scenario => {
  const name = `p2p-${adapter.transport}-w${window}`
  const floor = adapter.floors.throughput
  const target: Target | undefined = adapter.targetRatio === undefined
    ? undefined
    : { kind: "ratio-at-least", value: adapter.targetRatio }
  const rounds = adapter.rounds ?? 3
  const warmupRounds = adapter.warmupRounds ?? 1
  return {
    name,
    description: `${adapter.transport}: send to another instance's channel, window ${window}, ` +
      `rounds interleaved with the floor's (${floor.description})`,
    run: (context: ScenarioContext) =>
      Effect.gen(function*() {
        const { count, warmup } = context.config
        const session = yield* adapter.setup
        const floorRound = yield* floor.open(context.config)
        const peer = adapter.floors.peer === undefined ? undefined : yield* adapter.floors.peer.open(context.config)
        const peerRound = peer?._tag === "Running"
          ? (batch: ReadonlyArray<BenchMessage>) => peer.peer.p2p(window, batch.length)
          : undefined
        const messages = makeMessages(count)
        const transportRound = (batch: ReadonlyArray<BenchMessage>) =>
          runWindowed(session, batch, window, context.progress)
        for (let r = 1; r <= warmupRounds; r++) {
          const batch = warmupRounds === 1 ? makeMessages(warmup) : messages
          context.phase(warmupPhase(r, warmupRounds))
          yield* floorRound(batch, window)
          yield* transportRound(batch)
          if (peerRound !== undefined) yield* peerRound(batch)
        }
        const floorMs: Array<number> = []
        const transportMs: Array<number> = []
        const peerMs: Array<number> = []
        for (let r = 1; r <= rounds; r++) {
          // Which goes first alternates, so that neither always runs right after the other.
          context.phase(`window ${window}, round ${r}/${rounds}, ${r % 2 === 1 ? "floor first" : "floor second"}`)
          if (r % 2 === 1) floorMs.push(yield* floorRound(messages, window))
          if (r % 2 === 0 && peerRound !== undefined) peerMs.push(yield* peerRound(messages))
          transportMs.push(yield* transportRound(messages))
          if (r % 2 === 1 && peerRound !== undefined) peerMs.push(yield* peerRound(messages))
          if (r % 2 === 0) floorMs.push(yield* floorRound(messages, window))
        }
        const elapsedMs = median(transportMs)
        const ownRate = rate(count, elapsedMs)
        const floorRate = rate(count, median(floorMs))
        const extra = session.details ? yield* session.details : {}
        const peerLabel = adapter.floors.peer?.label
        const peerRows: Array<Measurement> = peerLabel === undefined ? [] : [{
          ...throughput(name, adapter.transport, ownRate, {
            // Without the peer, a floor no scenario measures: the row says "(not run)".
            floor: peerMs.length > 0 ? { transport: peerLabel, value: rate(count, median(peerMs)) } : peerLabel,
            target: { kind: "ratio-at-least", value: window === 1 ? peerTargets.window1 : peerTargets.window100 }
          }),
          metric: `msg/s vs ${peerLabel}`
        }]
        return {
          measurements: [
            throughput(name, adapter.transport, ownRate, {
              floor: { transport: floor.transport, value: floorRate },
              ...(target !== undefined ? { target } : {})
            }),
            ...peerRows
          ],
          ...(peer?._tag === "Unavailable" ? { notes: [peerUnavailable(peerLabel, peer.reason)] } : {}),
          details: {
            count,
            window,
            rounds,
            warmupRounds,
            messageBytes,
            elapsedMs,
            roundsMs: transportMs,
            floor: { transport: floor.transport, description: floor.description, rate: floorRate, roundsMs: floorMs },
            ...(peerMs.length > 0 ? { peer: { label: peerLabel, roundsMs: peerMs } } : {}),
            ...extra
          }
        }
      })
  }
}

/**
 * How a latency run hands each due message to its transport: `pooled`, to one of
 * {@link LATENCY_SENDERS} sender fibers (as the floors do); `fiber`, to a fiber of its own started
 * for it, as a websocket handler sends (and as the Python peer does, a task per send).
 * @since 0.2.0
 * @category models
 */
export type SendMode = "pooled" | "fiber"

/** One paced run: `rate` messages a second for `seconds`, each handed over as `mode` says. */
const latencyRun = (
  session: PointToPointSession,
  rate: number,
  seconds: number,
  mode: SendMode,
  context: ScenarioContext
): Effect.Effect<{ readonly summary: LatencySummary; readonly sendFailures: number }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const total = Math.round(rate * seconds)
    const messages = makeMessages(total, true)
    const recorder = new LatencyRecorder(total)
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      while (recorder.deliveredSoFar < total) {
        recorder.delivered((yield* session.receive).seq)
        context.progress(recorder.deliveredSoFar, total)
      }
    }))
    const senders = yield* (mode === "pooled"
      ? SenderPool.make(LATENCY_SENDERS, (seq) => session.send(messages[seq]))
      : SenderPool.fiberPerSend((seq) => session.send(messages[seq])))
    // Fire on schedule, paced in plain JavaScript as the floors are (an Effect.sleep per tick
    // would add 8 kB of garbage per message).
    yield* Effect.promise(() =>
      paced(total, rate, (seq) => {
        recorder.sent(seq)
        senders.dispatch(seq)
      })
    )
    yield* Effect.sync(() => senders.completed() === total).pipe(
      Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (done) => done }),
      Effect.timeout("5 seconds"),
      Effect.ignore
    )
    yield* Fiber.join(consumer).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    yield* Fiber.interrupt(consumer)
    return { summary: recorder.summary(), sendFailures: senders.failures() }
  }).pipe(Effect.scoped)

const latencyScenario = (adapter: PointToPointAdapter): Scenario => {
  const name = `latency-${adapter.transport}`
  const floor = adapter.floors.latency
  const targetFloor = adapter.floors.latencyTarget
  const requires = [...new Set([floor, targetFloor].filter((name) => name !== undefined))]
  return {
    name,
    description: `${adapter.transport}: send-to-delivery latency at a fixed rate, pooled senders and a fiber per send`,
    ...(requires.length > 0 ? { requires } : {}),
    run: (context: ScenarioContext) =>
      Effect.gen(function*() {
        const { latencyRate, latencySeconds, warmup } = context.config
        const session = yield* adapter.setup
        const peer = adapter.floors.peer === undefined ? undefined : yield* adapter.floors.peer.open(context.config)
        context.phase("warm-up")
        yield* runWindowed(session, makeMessages(warmup), 100, context.progress)
        context.phase(`pooled senders, ${latencyRate} msg/s for ${latencySeconds} s`)
        const [pooled, pooledGc] = yield* GcPauses.during(
          latencyRun(session, latencyRate, latencySeconds, "pooled", context)
        )
        const measurements: Array<Measurement> = [
          ...latency(name, adapter.transport, pooled.summary, {
            ...(floor !== undefined ? { floor } : {}),
            ...(targetFloor !== undefined
              ? { target: { floor: targetFloor, slackMs: adapter.latencySlackMs ?? 1 } }
              : {})
          }),
          gcRow(name, adapter.transport, pooledGc, "")
        ]
        const details: Record<string, unknown> = {
          rate: latencyRate,
          seconds: latencySeconds,
          pooled: { ...pooled, gc: pooledGc }
        }
        const notes: Array<string> = []
        if (peer?._tag === "Unavailable") notes.push(peerUnavailable(adapter.floors.peer?.label, peer.reason))
        const rates = peer?._tag === "Running" ? peerLatencyRates : [latencyRate]
        for (const [i, rate] of rates.entries()) {
          // With a peer, which goes first alternates from one rate to the next.
          const peerRun = peer?._tag === "Running"
            ? Effect.zipRight(
              Effect.sync(() => context.phase(`${adapter.floors.peer?.label}, ${rate} msg/s, a task per send`)),
              peer.peer.latency(rate, latencySeconds)
            )
            : undefined
          const peerFirst = i % 2 === 1
          let peerSummary: LatencySummary | undefined
          if (peerRun !== undefined && peerFirst) peerSummary = yield* peerRun
          context.phase(`a fiber per send, ${rate} msg/s for ${latencySeconds} s`)
          const [own, gc] = yield* GcPauses.during(latencyRun(session, rate, latencySeconds, "fiber", context))
          if (peerRun !== undefined && !peerFirst) peerSummary = yield* peerRun
          const suffix = `, fiber/send @${rate}/s`
          measurements.push(
            ...latency(name, adapter.transport, own.summary, {
              suffix,
              ...(peerSummary !== undefined && adapter.floors.peer !== undefined
                ? {
                  paired: {
                    transport: adapter.floors.peer.label,
                    summary: peerSummary,
                    slackMs: peerTargets.latencySlackMs
                  }
                }
                : {})
            }),
            gcRow(name, adapter.transport, gc, suffix)
          )
          details[`fiberPerSend${rate}`] = { ...own, gc, ...(peerSummary !== undefined ? { peer: peerSummary } : {}) }
        }
        const extra = session.details ? yield* session.details : {}
        return {
          measurements,
          ...(notes.length > 0 ? { notes } : {}),
          details: { ...details, ...extra }
        }
      })
  }
}

/** The longest collection pause of a latency run, next to its percentiles. */
const gcRow = (scenario: string, transport: string, gc: GcPauses.GcPauses, suffix: string): Measurement => ({
  scenario,
  transport,
  metric: `gc max pause ms${suffix}`,
  value: gc.maxMs
})

/**
 * The scenarios of one transport: window 1, window 100 and latency.
 * @since 0.1.0
 * @category constructors
 */
export const scenarios = (adapter: PointToPointAdapter): ReadonlyArray<Scenario> => [
  ...windows.map((window) => throughputScenario(adapter, window)),
  latencyScenario(adapter)
]
