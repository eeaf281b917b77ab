/**
 * The wait after the last send for messages still on their way: until every send that succeeded
 * has arrived, or (after a short grace) every one still missing has an allowed reason, or the
 * layers' expiry has passed, whichever comes first. A message missing after the expiry will not
 * arrive: it expired wherever it was.
 */
import { Effect, Option } from "effect"
import type { Tally } from "./Analysis.js"
import type { Collector } from "./Collector.js"

/** After the last send, how long the wait lasts at least unless everything has arrived. */
const graceMillis = 2_000

/** Returns how the wait ended, in words. */
export const waitFor = (
  collector: Collector,
  analysis: Effect.Effect<Tally>,
  expiryMillis: number
): Effect.Effect<string> =>
  Effect.gen(function*() {
    const stoppedAt = Date.now()
    const done = Effect.gen(function*() {
      yield* collector.poll
      if (collector.everySuccessfulSendArrived) return Option.some("every successful send has arrived")
      if (Date.now() - stoppedAt < graceMillis) return Option.none()
      // What is missing with an allowed reason (inside the killed proxy...) is not on its way.
      const { lost } = yield* analysis
      return lost.silent === 0
        ? Option.some("every successful send has arrived, but for allowed losses")
        : Option.none()
    })
    // (`repeat` with a schedule would yield the schedule's output, not the answer.)
    const ended = yield* done.pipe(
      Effect.tap((answer) => Option.isNone(answer) ? Effect.sleep("250 millis") : Effect.void),
      Effect.repeat({ until: Option.isSome }),
      Effect.timeoutOption(expiryMillis),
      Effect.map(Option.flatten)
    )
    yield* collector.poll
    return Option.getOrElse(
      ended,
      () => `some successful sends had not arrived ${expiryMillis / 1000} s (the expiry) after the last one`
    )
  })
