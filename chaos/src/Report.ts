/**
 * The result of one transport run, what makes it fail, and the whole report written to
 * chaos/results/latest.json.
 */
import type { Tally } from "./Analysis.js"
import type { Fault } from "./Faults.js"

export const runNames = ["rabbitmq", "rabbitmq-quorum", "zeromq-dedicated", "zeromq-embedded"] as const
export type RunName = typeof runNames[number]

/** Resident set size at the start (layer ready) and at the end (after the last sends), bytes. */
export interface Rss {
  readonly start: number | null
  readonly end: number | null
}

export interface RunResult {
  readonly name: RunName
  /** How long the producer sent for. */
  readonly sendingMillis: number
  /** Sends started per second, averaged over the run. */
  readonly sendRate: number
  readonly faults: ReadonlyArray<Fault>
  readonly tally: Tally
  /**
   * `channel_layer_messages_unroutable` summed over the producers that could report it (a
   * killed one cannot); `null` when none could.
   */
  readonly unroutable: number | null
  readonly producerRss: Rss
  readonly consumerRss: Rss
  readonly producerAlive: boolean
  readonly consumerAlive: boolean
  /** Record lines that did not decode (there should be none). */
  readonly malformedRecords: number
}

/** A run that could not be carried out (a node that did not start, a worker that died early...). */
export interface RunError {
  readonly name: RunName
  readonly error: string
}

export type RunOutcome = RunResult | RunError

export const isError = (outcome: RunOutcome): outcome is RunError => "error" in outcome

/**
 * Why a run fails; empty when it passes. The allowed-loss columns never fail a run: only a
 * message lost without a reason, a duplicate, a message out of order, a process that died, or a
 * fault after which nothing arrived any more.
 */
export const failures = (outcome: RunOutcome): ReadonlyArray<string> => {
  if (isError(outcome)) return [`the run could not be carried out: ${outcome.error.split("\n")[0]}`]
  const { tally } = outcome
  const reasons: Array<string> = []
  if (tally.lost.silent > 0) reasons.push(`${tally.lost.silent} sends that succeeded were never delivered`)
  if (tally.duplicates > 0) reasons.push(`${tally.duplicates} duplicates`)
  if (tally.outOfOrder > 0) reasons.push(`${tally.outOfOrder} out of order`)
  if (!outcome.producerAlive) reasons.push("the producer died")
  if (!outcome.consumerAlive) reasons.push("the consumer died")
  const unrecovered = [...tally.cutRecoveries, ...tally.repairRecoveries].filter((recovery) => recovery.millis === null)
  if (unrecovered.length > 0) {
    reasons.push(`nothing sent after ${unrecovered.map((recovery) => recovery.fault).join(", ")} arrived`)
  }
  return reasons
}

export interface ChaosReport {
  readonly startedAt: string
  readonly settings: {
    readonly sendingSeconds: number
    readonly expirySeconds: number
    readonly ratePerSecond: number
    readonly inFlight: number
    readonly groupEvery: number
    readonly killMarginMillis: number
  }
  readonly runs: ReadonlyArray<RunOutcome & { readonly failures: ReadonlyArray<string> }>
  readonly passed: boolean
  readonly elapsedSeconds: number
}
