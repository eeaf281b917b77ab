/**
 * Debounced, counted warnings. Hot paths (the reader and writer loops) only count what went wrong
 * and for whom; a background fiber turns the counts into at most one log line per kind and
 * interval, naming the biggest offenders. Nothing is dropped without a count and a line.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Schedule } from "effect"

/**
 * One kind of warning: how its line reads, given the total and the top names with their counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kind {
  readonly key: string
  readonly render: (total: number, top: string) => string
}

/**
 * A sink of counted warnings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Warnings {
  /** Counts `count` occurrences of `kind` for `name` (a channel, group, address, reason). */
  readonly report: (kind: Kind, name: string, count?: number) => void
  /** Logs what was counted (kinds logged less than the interval ago wait, unless `force`). */
  readonly flush: (force: boolean) => Effect.Effect<void>
}

const top = (counts: Map<string, number>, limit = 5): string => {
  const sorted = [...counts].sort((a, b) => b[1] - a[1])
  const shown = sorted.slice(0, limit).map(([name, n]) => `${name} (${n})`).join(", ")
  return sorted.length > limit ? `${shown} and ${sorted.length - limit} more` : shown
}

/**
 * Makes a warnings sink whose flushing fiber lives in the current scope; what is still counted
 * when the scope closes is logged then.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly interval?: Duration.DurationInput
  readonly tick?: Duration.DurationInput
}): Effect.Effect<Warnings, never, Scope.Scope> =>
  Effect.gen(function*() {
    const interval = Duration.toMillis(options.interval ?? Duration.seconds(10))
    const pending = new Map<Kind, Map<string, number>>()
    const lastLogged = new Map<Kind, number>()

    const report: Warnings["report"] = (kind, name, count = 1) => {
      let counts = pending.get(kind)
      if (counts === undefined) pending.set(kind, counts = new Map())
      counts.set(name, (counts.get(name) ?? 0) + count)
    }

    const flush = (force: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const lines: Array<string> = []
        for (const [kind, counts] of pending) {
          if (!force && now - (lastLogged.get(kind) ?? Number.NEGATIVE_INFINITY) < interval) continue
          let total = 0
          for (const n of counts.values()) total += n
          lines.push(kind.render(total, top(counts)))
          pending.delete(kind)
          lastLogged.set(kind, now)
        }
        return Effect.forEach(lines, (line) => Effect.logWarning(line), { discard: true })
      })

    yield* flush(false).pipe(
      Effect.repeat(Schedule.spaced(options.tick ?? Duration.millis(250))),
      Effect.interruptible,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => flush(true))
    return { report, flush }
  })
