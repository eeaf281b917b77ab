/**
 * The plug-in contract of the harness: a scenario is a named Effect that returns measurements.
 *
 * Floors and transport scenarios are both scenarios. A measurement can name the floor it is
 * compared against (another scenario's measurement from the same run) and a target; the report
 * computes the ratio and pass/fail once every scenario has run.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { BenchMessage } from "./Message.js"

/**
 * Run-wide settings every scenario reads.
 * @since 0.1.0
 * @category models
 */
export interface BenchConfig {
  /** `--quick`: smaller counts and shorter latency runs. */
  readonly quick: boolean
  /** Messages per throughput measurement (20,000; quick: 3,000). */
  readonly count: number
  /** Untimed messages sent first on each freshly opened path (JIT, connection warm-up). */
  readonly warmup: number
  /** Rate of the latency runs, messages per second. */
  readonly latencyRate: number
  /** Length of the latency runs in seconds (10; quick: 2). */
  readonly latencySeconds: number
  /** RabbitMQ URL of the raw amqplib floors. */
  readonly amqpUrl: string
  /** A scenario that has not finished after this many milliseconds fails. */
  readonly timeoutMs: number
}

/**
 * What a scenario gets besides the config: a progress reporter.
 * @since 0.1.0
 * @category models
 */
export interface ScenarioContext {
  readonly config: BenchConfig
  /** Reports `done` of `total` units of the current phase; cheap enough to call per message. */
  readonly progress: (done: number, total: number) => void
  /** Names the current phase ("warm-up", "window 100", ...) on the progress line. */
  readonly phase: (label: string) => void
}

/**
 * The phase label of warm-up round `round` of `rounds`: "warm-up" when there is one.
 * @since 0.1.0
 * @category utils
 */
export const warmupPhase = (round: number, rounds: number): string =>
  rounds === 1 ? "warm-up" : `warm-up ${round}/${rounds}`

/**
 * A reference to another measurement of the same run, by scenario name and metric.
 * @since 0.1.0
 * @category models
 */
export interface FloorRef {
  readonly scenario: string
  readonly metric: string
}

/**
 * A target of the project's, checked against the measured value (and its floor, where it has one).
 * - `ratio-at-least`: value / floor >= value (throughput against its floor)
 * - `floor-plus-at-most`: value <= floor + value (latency against the raw p99); the floor is
 *   `relativeTo` when given (every transport's p99 is bounded by raw amqplib's), otherwise the
 *   measurement's own
 * - `at-least`, `at-most`, `equals`: absolute bounds
 * @since 0.1.0
 * @category models
 */
export type Target =
  | { readonly kind: "ratio-at-least"; readonly value: number }
  | { readonly kind: "floor-plus-at-most"; readonly value: number; readonly relativeTo?: FloorRef }
  | { readonly kind: "at-least"; readonly value: number }
  | { readonly kind: "at-most"; readonly value: number }
  | { readonly kind: "equals"; readonly value: number }

/**
 * One number a scenario measured. `metric` carries the unit ("msg/s", "p99 ms", ...). It is
 * compared either with another measurement of the run (`floor`) or with a floor the scenario
 * measured itself, in rounds interleaved with its own (`pairedFloor`).
 * @since 0.1.0
 * @category models
 */
export interface Measurement {
  readonly scenario: string
  readonly transport: string
  readonly metric: string
  readonly value: number
  readonly floor?: FloorRef
  readonly pairedFloor?: PairedFloor
  readonly target?: Target
}

/**
 * A floor measured by the scenario itself, a round of the floor next to each of its own rounds.
 * @since 0.1.0
 * @category models
 */
export interface PairedFloor {
  /** What the floor is: "amqplib", "zeromq", "effect-queue". */
  readonly transport: string
  readonly value: number
}

/**
 * A throughput floor that runs a round at a time, so that a transport's scenario can interleave
 * the floor's rounds with its own: on a shared machine the speed of everything drifts by tens of
 * percent within a minute (other work, the broker's garbage collection), and a floor measured
 * earlier in the run would compare the transport with another moment. Interleaved, both see the
 * same conditions, and alternating which goes first cancels what the order does.
 * @since 0.1.0
 * @category models
 */
export interface ThroughputFloor {
  /** The floor's label in the table. */
  readonly transport: string
  /** What the floor measures, for the JSON file. */
  readonly description: string
  /**
   * Opens what the floor needs (connections, sockets) in the scope, for rounds of up to
   * `config.count` messages; returns one timed round: milliseconds to move the messages with at
   * most `window` in flight (floors without a window ignore it), first send to last delivery.
   */
  readonly open: (config: BenchConfig) => Effect.Effect<
    (messages: ReadonlyArray<BenchMessage>, window: number) => Effect.Effect<number, unknown>,
    unknown,
    Scope.Scope
  >
}

/**
 * What a scenario returns: its measurements and free-form details for the JSON file.
 * @since 0.1.0
 * @category models
 */
export interface ScenarioResult {
  readonly measurements: ReadonlyArray<Measurement>
  readonly details: Record<string, unknown>
  /** Lines printed under the table: what the scenario could not measure here, and why. */
  readonly notes?: ReadonlyArray<string>
}

/**
 * A named benchmark. `run` is scoped: connections opened with `Effect.acquireRelease` are closed
 * when it ends, fails or times out. `requires` names scenarios (usually floors) that `--only`
 * pulls in so that ratios can be computed.
 * @since 0.1.0
 * @category models
 */
export interface Scenario {
  readonly name: string
  readonly description: string
  readonly requires?: ReadonlyArray<string>
  readonly run: (context: ScenarioContext) => Effect.Effect<ScenarioResult, unknown, Scope.Scope>
}

/**
 * A scenario written as an async function. Cleanup is the function's own business (try/finally);
 * prefer an Effect `run` with `acquireRelease` when resources must survive a timeout.
 * @since 0.1.0
 * @category constructors
 */
export const fromAsync = (
  name: string,
  description: string,
  run: (context: ScenarioContext) => Promise<ScenarioResult>,
  requires?: ReadonlyArray<string>
): Scenario => ({
  name,
  description,
  ...(requires ? { requires } : {}),
  run: (context) => Effect.tryPromise({ try: () => run(context), catch: (cause) => cause })
})

/**
 * Measurements of a throughput run: one `msg/s` row, compared with the `msg/s` of a floor
 * scenario (by name) or with a paired floor.
 * @since 0.1.0
 * @category constructors
 */
export const throughput = (
  scenario: string,
  transport: string,
  messagesPerSecond: number,
  compare?: { readonly floor: string | PairedFloor; readonly target?: Target }
): Measurement => ({
  scenario,
  transport,
  metric: "msg/s",
  value: messagesPerSecond,
  ...(compare === undefined
    ? {}
    : typeof compare.floor === "string"
    ? { floor: { scenario: compare.floor, metric: "msg/s" } }
    : { pairedFloor: compare.floor }),
  ...(compare?.target ? { target: compare.target } : {})
})

/**
 * Measurements of a latency run: `p50 ms`, `p99 ms`, `p99.9 ms` and `max ms` rows (each metric
 * followed by `suffix` when given, for a second mode of the same scenario), compared either with
 * the same percentile of the `floor` scenario or with a `paired` run measured by the scenario
 * itself (the ratio column). With `target`, p99 gets the target "at most the p99 of the
 * `target.floor` scenario plus `slackMs`"; with `paired.slackMs`, "at most the paired p99 plus
 * `slackMs`".
 * @since 0.1.0
 * @category constructors
 */
export const latency = (
  scenario: string,
  transport: string,
  summary: LatencyPercentiles,
  compare: {
    readonly floor?: string
    readonly target?: { readonly floor: string; readonly slackMs: number }
    readonly paired?: { readonly transport: string; readonly summary: LatencyPercentiles; readonly slackMs?: number }
    readonly suffix?: string
  } = {}
): ReadonlyArray<Measurement> => {
  const { floor, paired, suffix = "", target } = compare
  const row = (metric: string, pick: (s: LatencyPercentiles) => number, isP99: boolean): Measurement => ({
    scenario,
    transport,
    metric: metric + suffix,
    value: pick(summary),
    ...(paired !== undefined
      ? { pairedFloor: { transport: paired.transport, value: pick(paired.summary) } }
      : floor !== undefined
      ? { floor: { scenario: floor, metric } }
      : {}),
    ...(isP99 && target !== undefined
      ? {
        target: {
          kind: "floor-plus-at-most",
          value: target.slackMs,
          relativeTo: { scenario: target.floor, metric: "p99 ms" }
        } as const
      }
      : isP99 && paired?.slackMs !== undefined
      ? { target: { kind: "floor-plus-at-most", value: paired.slackMs } as const }
      : {})
  })
  return [
    row("p50 ms", (s) => s.p50, false),
    row("p99 ms", (s) => s.p99, true),
    row("p99.9 ms", (s) => s.p999, false),
    row("max ms", (s) => s.max, false)
  ]
}

/**
 * The percentiles a latency row reads.
 * @since 0.2.0
 * @category models
 */
export interface LatencyPercentiles {
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}
