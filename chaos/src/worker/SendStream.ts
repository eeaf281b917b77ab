/**
 * The producer's stream of sends: a fixed number started every tick, at most `inFlight` of them
 * waiting at once (when the broker is away they all wait, and the stream slows down instead of
 * piling up), one in `groupEvery` a group send. Each send is recorded when it ends, with its
 * outcome: ok, or the `_tag` of its error.
 */
import type { ChannelLayer } from "@channel-layer/core"
import { Cause, Deferred, Effect, Exit, Option, Schedule } from "effect"
import type { Load } from "../Protocol.js"
import { type ChaosMessage, type Kind, OK, type RecordWriter } from "../Records.js"

export interface SendStreamOptions {
  readonly layer: ChannelLayer.ChannelLayerService
  readonly sender: string
  readonly channel: string
  readonly group: string
  readonly load: Load
  readonly records: RecordWriter
  /** Completes when the orchestrator asks to stop. */
  readonly stop: Deferred.Deferred<void>
}

const tickMillis = 20

/** A send that neither succeeds nor fails for this long is recorded as `SendTimedOut`. */
const sendTimeout = "30 seconds"

const errorTag = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.isInterruptedOnly(cause) ? "Interrupted" : "Defect",
    onSome: (error) =>
      typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
        ? error._tag
        : "UnknownError"
  })

/** Runs until `stop` completes, then waits for the sends in flight. */
export const run = (options: SendStreamOptions): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { layer, load, records, sender } = options
    const permits = yield* Effect.makeSemaphore(load.inFlight)
    const perTick = Math.max(1, Math.round(load.ratePerSecond * tickMillis / 1000))
    let next = 0

    const sendOne = (seq: number) =>
      Effect.gen(function*() {
        const kind: Kind = seq % load.groupEvery === load.groupEvery - 1 ? "group" : "direct"
        const message: ChaosMessage = { type: "chaos.message", sender, seq, kind }
        const start = Date.now()
        const send: Effect.Effect<void, ChannelLayer.SendError | ChannelLayer.GroupSendError> = kind === "direct"
          ? layer.send(options.channel, message)
          : layer.groupSend(options.group, message)
        const exit = yield* send.pipe(
          Effect.timeoutFail({ duration: sendTimeout, onTimeout: () => ({ _tag: "SendTimedOut" }) }),
          Effect.exit
        )
        const outcome = Exit.isSuccess(exit) ? OK : errorTag(exit.cause)
        yield* records.write({ _tag: "send", sender, seq, kind, start, end: Date.now(), outcome })
      })

    // The permit is taken before the fork, so a tick waits while every permit is in use. Nothing
    // interrupts a tick (the loop looks at `stop` between ticks): a permit taken is always
    // given back by the send it was taken for.
    const startOne = permits.take(1).pipe(
      Effect.zipRight(Effect.sync(() => next++)),
      Effect.flatMap((seq) => Effect.forkScoped(sendOne(seq).pipe(Effect.ensuring(permits.release(1)))))
    )
    const tick = Effect.repeatN(startOne, perTick - 1)

    yield* tick.pipe(
      Effect.repeat({
        schedule: Schedule.fixed(`${tickMillis} millis`),
        until: () => Deferred.isDone(options.stop)
      })
    )
    // Every permit back: no send in flight.
    yield* permits.take(load.inFlight)
  }).pipe(Effect.scoped)
