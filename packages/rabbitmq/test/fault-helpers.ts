/**
 * What the fault and TLS tests share: layer instances made straight in the test's scope, waiting
 * on conditions (never on fixed delays), catching the layer's logs, and the bookkeeping of a load
 * run (what was sent, what failed, what arrived).
 */
import type { ChannelLayer, Errors, Message } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import type { ChannelModel, ConfirmChannel } from "amqplib"
import type { Scope } from "effect"
import { Cause, Duration, Effect, Exit, Option, Schedule } from "effect"
import { type LogLine, logsInto, rawConfirmChannel as sharedRawConfirmChannel, waitFor } from "./helpers.js"

/** The shared test broker (vhost `asgi`), the target of the proxies. */
export const broker = { host: "127.0.0.1", port: 5672 } as const

export { captureLogs, type LogLine, unique, url, vhost } from "./helpers.js"

/** A raw amqplib publisher-confirm channel on the shared broker, closed with the scope. */
export const rawConfirmChannel: Effect.Effect<ConfirmChannel, never, Scope.Scope> = Effect.map(
  sharedRawConfirmChannel,
  ({ channel }) => channel
)

/** A quick, steady reconnect schedule: the tests wait for conditions, not for a backoff. */
export const fastRetry = Schedule.spaced(Duration.millis(100))

/** One layer instance living in the test's scope. */
export interface Instance {
  readonly layer: ChannelLayer.ChannelLayerService
  readonly services: RabbitMQ.RabbitMQServices
  /** Every line the instance logged (not printed: the warnings of faults are expected here). */
  readonly logs: ReadonlyArray<LogLine>
}

/** Makes a layer instance in the current scope (closed with it). */
export const instance = (
  options: RabbitMQ.RabbitMQOptions
): Effect.Effect<Instance, Errors.InvalidOptions, Scope.Scope> => {
  const logs: Array<LogLine> = []
  return Effect.map(logsInto(RabbitMQ.make(options), logs), (services) => ({
    layer: services.channelLayer,
    services,
    logs
  }))
}

/** Waits until `check` holds (see `waitFor`), by default for up to 20 s. */
export const waitUntil = (
  what: string,
  check: () => boolean,
  timeout: Duration.DurationInput = "20 seconds"
): Effect.Effect<void, Error> => waitFor(what, check, timeout)

/** Like {@link waitUntil}, for an effectful check. */
export const waitUntilEffect = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  timeout: Duration.DurationInput = "20 seconds"
): Effect.Effect<void, E | Error, R> =>
  check.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (done) => done }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`timed out after ${Duration.format(Duration.decode(timeout))} waiting for ${what}`)
    }),
    Effect.asVoid
  )

/**
 * Waits until the instance is live on a connection other than `previous`: the reconnect has
 * finished (queue declared again, groups bound again, consumer running).
 */
export const awaitNewConnection = (
  instance: Instance,
  previous: ChannelModel,
  timeout: Duration.DurationInput = "30 seconds"
): Effect.Effect<ChannelModel, Error> =>
  Effect.gen(function*() {
    for (;;) {
      const model = yield* Effect.option(instance.services.connection.connection)
      if (Option.isSome(model) && model.value !== previous) return model.value
      yield* Effect.sleep("20 millis")
    }
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`the layer did not reconnect within ${Duration.format(Duration.decode(timeout))}`)
    })
  )

/** How one send ended. */
export type Outcome =
  | { readonly _tag: "Sent" }
  | { readonly _tag: "ConnectionClosed"; readonly reason: string; readonly afterCut: number }
  | { readonly _tag: "Other"; readonly description: string }

/**
 * The record of a load run: the outcome of every send and every arrival, by message id. Ids are
 * 0, 1, 2... in the order the sends start.
 */
export class Ledger {
  readonly outcomes = new Map<number, Outcome>()
  readonly arrivals = new Map<number, number>()
  /** The number of cuts made when each send started. */
  readonly phases = new Map<number, number>()
  /** Arrivals that carried no id of this run. */
  strays = 0
  started = 0
  settled = 0
  /** Cuts made so far: a failure is put down to the latest cut before it. */
  cuts = 0

  get inFlight(): number {
    return this.started - this.settled
  }

  /** Runs one send of message `id`, recording how it ended; never fails. */
  track<E extends { readonly _tag: string; readonly message: string }>(
    id: number,
    send: Effect.Effect<void, E>,
    timeout: Duration.DurationInput = "60 seconds"
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.started++
      this.phases.set(id, this.cuts)
      return send.pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => ({
            _tag: "Hung",
            message: `still pending after ${Duration.format(Duration.decode(timeout))}`
          })
        }),
        Effect.exit,
        Effect.map((exit): Outcome => {
          if (Exit.isSuccess(exit)) return { _tag: "Sent" }
          const failure = Cause.failureOption(exit.cause)
          if (failure._tag === "Some" && failure.value._tag === "ConnectionClosed") {
            return { _tag: "ConnectionClosed", reason: failure.value.message, afterCut: this.cuts }
          }
          return {
            _tag: "Other",
            description: failure._tag === "Some"
              ? `${failure.value._tag}: ${failure.value.message}`
              : Cause.pretty(exit.cause)
          }
        }),
        Effect.map((outcome) => {
          this.settled++
          this.outcomes.set(id, outcome)
        })
      )
    })
  }

  /** Records one received message. */
  arrived(message: Message.Message): void {
    const id = message.id
    if (typeof id !== "number" || id < 0 || id >= this.started) {
      this.strays++
      return
    }
    this.arrivals.set(id, (this.arrivals.get(id) ?? 0) + 1)
  }

  /** Whether a message with an id of at least `min` has arrived. */
  anyArrivedFrom(min: number): boolean {
    for (const id of this.arrivals.keys()) if (id >= min) return true
    return false
  }

  /** Sends `from` to `to - 1` have all ended, and every one that succeeded has arrived. */
  allSentArrivedIn(from: number, to: number): boolean {
    for (let id = from; id < to; id++) {
      const outcome = this.outcomes.get(id)
      if (outcome === undefined || outcome._tag === "Sent" && !this.arrivals.has(id)) return false
    }
    return true
  }

  /** How many sends from `from` to `to - 1` succeeded and have not arrived. */
  missingIn(from: number, to: number): number {
    let missing = 0
    for (let id = from; id < to; id++) {
      if (this.outcomes.get(id)?._tag === "Sent" && !this.arrivals.has(id)) missing++
    }
    return missing
  }

  /** Every id that was sent successfully has arrived. */
  allSentArrived(): boolean {
    for (const [id, outcome] of this.outcomes) {
      if (outcome._tag === "Sent" && !this.arrivals.has(id)) return false
    }
    return true
  }

  /** The counts a load test asserts on and logs. */
  summary() {
    let sent = 0
    let closed = 0
    let closedButArrived = 0
    let lostSilently = 0
    const other: Array<string> = []
    const closedPerCut = new Map<number, number>()
    /** Per phase (sends started after `n` cuts): attempted, delivered, ConnectionClosed. */
    const perPhase = new Map<number, { attempted: number; delivered: number; closed: number }>()
    const reasons = new Map<string, number>()
    for (const [id, outcome] of this.outcomes) {
      const phase = this.phases.get(id) ?? 0
      const counts = perPhase.get(phase) ?? { attempted: 0, delivered: 0, closed: 0 }
      perPhase.set(phase, counts)
      counts.attempted++
      if (this.arrivals.has(id)) counts.delivered++
      if (outcome._tag === "ConnectionClosed") counts.closed++
      if (outcome._tag === "Sent") {
        sent++
        if (!this.arrivals.has(id)) lostSilently++
      } else if (outcome._tag === "ConnectionClosed") {
        closed++
        if (this.arrivals.has(id)) closedButArrived++
        closedPerCut.set(outcome.afterCut, (closedPerCut.get(outcome.afterCut) ?? 0) + 1)
        reasons.set(outcome.reason, (reasons.get(outcome.reason) ?? 0) + 1)
      } else {
        other.push(`#${id} ${outcome.description}`)
      }
    }
    let duplicates = 0
    for (const count of this.arrivals.values()) if (count > 1) duplicates += count - 1
    return {
      attempted: this.outcomes.size,
      sent,
      closed,
      closedButArrived,
      delivered: this.arrivals.size,
      lostSilently,
      duplicates,
      strays: this.strays,
      other,
      closedPerCut: Object.fromEntries(closedPerCut),
      perPhase: Object.fromEntries(perPhase),
      reasons: Object.fromEntries(reasons)
    }
  }
}
