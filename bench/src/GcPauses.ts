/**
 * The garbage collector's pauses during a measured run, from `PerformanceObserver` on `gc`
 * entries: a latency tail often is a collection, and these figures say whether it was.
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { PerformanceEntry } from "node:perf_hooks"
import { PerformanceObserver } from "node:perf_hooks"

/**
 * Collections that ran during a run and how long they paused the process.
 * @since 0.2.0
 * @category models
 */
export interface GcPauses {
  readonly count: number
  readonly totalMs: number
  readonly maxMs: number
}

const tally = (entries: ReadonlyArray<PerformanceEntry>): GcPauses => {
  let totalMs = 0
  let maxMs = 0
  for (const entry of entries) {
    totalMs += entry.duration
    maxMs = Math.max(maxMs, entry.duration)
  }
  return { count: entries.length, totalMs, maxMs }
}

/**
 * Runs `effect` and returns its value with the collections that ran meanwhile.
 * @since 0.2.0
 * @category measuring
 */
export const during = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, GcPauses], E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const entries: Array<PerformanceEntry> = []
      const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()))
      observer.observe({ entryTypes: ["gc"] })
      return { observer, entries }
    }),
    ({ entries, observer }) =>
      Effect.map(effect, (value): [A, GcPauses] => {
        // Entries are delivered a tick late: take what is still buffered.
        entries.push(...observer.takeRecords())
        return [value, tally(entries)]
      }),
    ({ observer }) => Effect.sync(() => observer.disconnect())
  )
