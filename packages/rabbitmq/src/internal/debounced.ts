/**
 * A warning that may fire thousands of times a second (undecodable bodies, refused group sends),
 * logged at most once per interval: the first at once, the ones that follow within the interval
 * counted and logged together when it ends.
 */
import type { Scope } from "effect"
import { Duration, Effect, Runtime } from "effect"

/** Logs `emit(count, latest)` at most once per `interval`. */
export class Debounced<A> {
  private last = Number.NEGATIVE_INFINITY
  private held = 0
  private latest: A | undefined = undefined
  private flushing = false

  constructor(
    private readonly interval: number,
    private readonly now: () => number,
    private readonly runtime: Runtime.Runtime<never>,
    private readonly scope: Scope.Scope,
    private readonly emit: (count: number, latest: A) => Effect.Effect<void>
  ) {}

  /** One more event. Safe to call outside any fiber. */
  hit(latest: A): void {
    const time = this.now()
    if (!this.flushing && time - this.last >= this.interval) {
      this.last = time
      this.run(this.emit(1, latest))
      return
    }
    this.held++
    this.latest = latest
    if (this.flushing) return
    this.flushing = true
    const wait = Math.max(0, this.interval - (time - this.last))
    this.run(Effect.zipRight(
      Effect.sleep(Duration.millis(wait)),
      Effect.suspend(() => {
        const count = this.held
        const last = this.latest as A
        this.held = 0
        this.latest = undefined
        this.flushing = false
        this.last = this.now()
        return this.emit(count, last)
      })
    ))
  }

  private run(effect: Effect.Effect<void>): void {
    Runtime.runFork(this.runtime)(Effect.forkIn(effect, this.scope))
  }
}
