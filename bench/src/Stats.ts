/**
 * Small numeric helpers: rates, medians, percentiles and a send-to-delivery latency recorder.
 * @since 0.1.0
 */
import { performance } from "node:perf_hooks"

/**
 * Messages per second for `count` messages moved in `elapsedMs` milliseconds.
 * @since 0.1.0
 * @category rates
 */
export const rate = (count: number, elapsedMs: number): number => elapsedMs > 0 ? (count * 1000) / elapsedMs : 0

/**
 * The median of a non-empty list of numbers.
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * The nearest-rank percentile `p` (0-100) of an ascending array.
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (sorted: Float64Array, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/**
 * What a latency run found: percentiles in milliseconds and how many messages arrived.
 * @since 0.1.0
 * @category models
 */
export interface LatencySummary {
  readonly sent: number
  readonly delivered: number
  readonly duplicates: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  readonly mean: number
}

/**
 * Percentiles of a run's latencies in milliseconds, in send order, each `undefined`, `null` or
 * negative for a message that never arrived.
 * @since 0.2.0
 * @category latency
 */
export const summarize = (
  latencies: ArrayLike<number | null | undefined>,
  counts: { readonly sent?: number; readonly duplicates?: number } = {}
): LatencySummary => {
  const values: Array<number> = []
  let sum = 0
  for (let i = 0; i < latencies.length; i++) {
    const value = latencies[i]
    if (typeof value === "number" && value >= 0) {
      values.push(value)
      sum += value
    }
  }
  const sorted = Float64Array.from(values).sort()
  return {
    sent: counts.sent ?? latencies.length,
    delivered: sorted.length,
    duplicates: counts.duplicates ?? 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN
  }
}

/**
 * Records, by sequence number, when each message was sent and how long it took to arrive.
 * @since 0.1.0
 * @category latency
 */
export class LatencyRecorder {
  private readonly sentAt: Float64Array
  private readonly latency: Float64Array
  private sentCount = 0
  private deliveredCount = 0
  private duplicateCount = 0
  private waiter: (() => void) | undefined

  constructor(readonly total: number) {
    this.sentAt = new Float64Array(total)
    this.latency = new Float64Array(total).fill(-1)
  }

  /** Marks message `seq` as handed to the transport now. */
  sent(seq: number): void {
    this.sentAt[seq] = performance.now()
    this.sentCount++
  }

  /** Marks message `seq` as delivered now. */
  delivered(seq: number | undefined): void {
    const now = performance.now()
    if (seq === undefined || seq < 0 || seq >= this.total) return
    if (this.latency[seq] >= 0) {
      this.duplicateCount++
      return
    }
    this.latency[seq] = now - this.sentAt[seq]
    this.deliveredCount++
    if (this.deliveredCount === this.total && this.waiter) this.waiter()
  }

  /** Messages delivered so far. */
  get deliveredSoFar(): number {
    return this.deliveredCount
  }

  /** Resolves when every message arrived or `timeoutMs` passed, whichever is first. */
  waitAll(timeoutMs: number): Promise<void> {
    if (this.deliveredCount === this.total) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.waiter = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** Percentiles over the delivered messages. */
  summary(): LatencySummary {
    return summarize(this.latency, { sent: this.sentCount, duplicates: this.duplicateCount })
  }
}

/**
 * Calls `fire(seq)` for `total` messages at a fixed `perSecond` rate, following the schedule
 * (messages that fell behind a late timer are fired at once, never skipped). Resolves after the last.
 * @since 0.1.0
 * @category latency
 */
export const paced = (total: number, perSecond: number, fire: (seq: number) => void): Promise<void> =>
  new Promise((resolve) => {
    const interval = 1000 / perSecond
    const start = performance.now()
    let seq = 0
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1)
      while (seq < due) fire(seq++)
      if (seq >= total) return resolve()
      setTimeout(tick, Math.max(0, start + seq * interval - performance.now()))
    }
    tick()
  })
