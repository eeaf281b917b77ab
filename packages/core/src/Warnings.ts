/**
 * Debounced, counted warnings, for what can happen thousands of times a second (messages dropped
 * for a full channel, expired, undecodable, refused by the broker). Hot paths only count what went
 * wrong and for whom, outside any fiber if need be; a background fiber of the layer's scope turns
 * the counts into at most one log line per kind and interval, naming the biggest offenders.
 * Nothing is dropped without a count and a line: what is still counted when the scope closes is
 * logged then. Every transport reports through the one sink its layer makes.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, LogLevel, Schedule } from "effect"

/**
 * One kind of warning: how its line reads, given the total and the top names with their counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kind {
  readonly key: string
  readonly render: (total: number, top: string) => string
  /** The level of its lines (default `Warning`): a normal event that is only counted logs at `Debug`. */
  readonly level?: LogLevel.LogLevel
}

/**
 * A sink of counted warnings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Warnings {
  /** Counts `count` occurrences of `kind` for `name` (a channel, group, address, reason). Safe outside any fiber. */
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
  /** At most one line per kind per this interval (default 10 seconds). */
  readonly interval?: Duration.DurationInput
  /** How often the counts are looked at (default 250 ms). */
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
        const lines: Array<readonly [LogLevel.LogLevel, string]> = []
        for (const [kind, counts] of pending) {
          if (!force && now - (lastLogged.get(kind) ?? Number.NEGATIVE_INFINITY) < interval) continue
          let total = 0
          for (const n of counts.values()) total += n
          lines.push([kind.level ?? LogLevel.Warning, kind.render(total, top(counts))])
          pending.delete(kind)
          lastLogged.set(kind, now)
        }
        return Effect.forEach(lines, ([level, line]) => Effect.logWithLevel(level, line), { discard: true })
      })

    yield* flush(false).pipe(
      Effect.repeat(Schedule.spaced(options.tick ?? Duration.millis(250))),
      Effect.interruptible,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => flush(true))
    return { report, flush }
  })
