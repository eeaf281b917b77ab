/**
 * The connection manager: one background fiber that connects when the layer is first used and
 * then reconnects forever, and the state the send path reads without waiting.
 *
 * Each connection is a `Session`. The queue outlives it: it is not exclusive, and the broker
 * deletes it only when no connection has used it for `queueExpiry` (`x-expires`), or when the
 * layer closes. A reconnect finds it with its bindings and whatever was sent meanwhile; the
 * deliveries the lost connection left unacknowledged come again, flagged redelivered (see
 * `Redeliveries`). The queue has `x-single-active-consumer`: a new connection's consumer may
 * register while the broker still believes the old one alive (a hung link, until heartbeats
 * tell), and takes over once it is gone.
 *
 * After a connection that was live is lost, reconnect attempts come at most `FAST_RETRY_CAP`
 * apart for `FAST_RETRY_WINDOW` (a broker restart or a cut link is typically back within
 * seconds); after that, `retrySchedule` alone sets the pace.
 */
import { Errors, Metrics } from "@channel-layer/core"
import type { Channel, ChannelModel } from "amqplib"
import type { Scope } from "effect"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberId,
  FiberSet,
  Option,
  Schedule,
  Stream,
  SubscriptionRef
} from "effect"
import type { Health, Status } from "../RabbitMQConnection.js"
import * as RabbitMQMetrics from "../RabbitMQMetrics.js"
import * as Dial from "./dial.js"
import { describeError, type Lookup } from "./endpoints.js"
import { SetupRefused } from "./errors.js"
import type { Resolved } from "./options.js"
import { type Handlers, type Live, Session } from "./session.js"
import { closeModel } from "./session.js"
import { QueueName } from "./topology.js"

/** Test seams. */
export interface Hooks {
  /** Candidate queue names, one per call (default `channels_` + 12 random letters). */
  readonly queueName?: () => string
  /** How host names resolve (default: every address `dns.lookup` knows). */
  readonly lookup?: Lookup
}

/** The manager as the layer sees it. */
export interface Manager {
  /** The queue name: final once the first declare succeeded. */
  readonly queueName: () => string
  /** The live session, if any (never waits). */
  readonly current: () => Live | undefined
  /** The channel to issue bind/unbind on: set from the moment a session's binds are issued. */
  readonly control: () => Channel | undefined
  /** The live session, waiting up to `waitForConnection` (and starting the connection). */
  readonly awaitLive: Effect.Effect<Live, Errors.ConnectionClosed | Errors.LayerClosed>
  /** Starts connecting if nothing has yet. */
  readonly demand: () => void
  /** A publish on `live` found its channel closed: drop the session and reconnect. */
  readonly broken: (live: Live, reason: string) => void
  /** Whether the layer's scope has closed. */
  readonly isClosed: () => boolean
  /** The current connection, then each new one. */
  readonly connections: Stream.Stream<ChannelModel>
  /** The connection's health, updated at each change. */
  readonly health: SubscriptionRef.SubscriptionRef<Health>
}

/** How far apart reconnect attempts are at most, right after a live connection was lost. */
export const FAST_RETRY_CAP = Duration.millis(500)

/** How long after a live connection was lost reconnect attempts keep to `FAST_RETRY_CAP`. */
export const FAST_RETRY_WINDOW = Duration.seconds(30)

/** Connect failures within this interval of a logged one are logged at debug level only. */
const FAILURE_LOG_INTERVAL = 5000

/** A connection that lived less than this is a failure too: the loop backs off after it. */
const SHORT_LIVED = 1000

/** Why a connection attempt failed, and whether retrying can help. */
interface Failure {
  readonly reason: string
  readonly permanent: boolean
}

/** Waiting for a live session; failed by a permanent refusal or the layer closing. */
type Ready = Deferred.Deferred<Live, Errors.ConnectionClosed | Errors.LayerClosed>
const newReady = (): Ready => Deferred.unsafeMake(FiberId.none)

const refusedError = (reason: string) =>
  new Errors.ConnectionClosed({
    reason: `RabbitMQ refused the connection, and waiting will not change that: ${reason}`
  })

/**
 * `retrySchedule` with its delays capped at `FAST_RETRY_CAP` (jittered, so that many processes
 * cut at once do not come back in step) while less than `FAST_RETRY_WINDOW` has passed since
 * `lostAt()`.
 */
const reconnectSchedule = (schedule: Schedule.Schedule<unknown, unknown>, lostAt: () => number) =>
  Schedule.modifyDelayEffect(
    schedule,
    (_, delay) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now): Duration.DurationInput =>
          now - lostAt() < Duration.toMillis(FAST_RETRY_WINDOW)
            ? Duration.min(delay, Duration.times(FAST_RETRY_CAP, 0.8 + 0.4 * Math.random()))
            : delay
      )
  )

/**
 * Makes the manager; its fiber lives in the current scope, and closing the scope deletes the
 * queue and closes the connection. One closure on purpose: the manager's state (the current
 * session, who waits for a live one, the last error, whether the broker refuses us) is shared by
 * the short functions inside, each of which does one thing.
 */
export const make = (
  options: Resolved,
  handlers: Handlers,
  hooks: Hooks = {}
): Effect.Effect<Manager, never, Scope.Scope> =>
  Effect.gen(function*() {
    const name = new QueueName(hooks.queueName)
    // amqplib's events log through fibers of the layer's scope.
    const runFork = yield* FiberSet.makeRuntime<never>()
    const log = (effect: Effect.Effect<void>) => {
      runFork(effect.pipe(Effect.annotateLogs({ transport: "rabbitmq", queue: name.current })))
    }
    const demanded = yield* Effect.makeLatch(false)
    const connectionsRef = yield* SubscriptionRef.make(Option.none<ChannelModel>())
    const health = yield* SubscriptionRef.make<Health>({
      status: "idle",
      lastError: undefined,
      since: yield* Clock.currentTimeMillis
    })
    /** Sets the status (`since` moves only when it changes) and, when given, the last error. */
    const setHealth = (status: Status, error?: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        SubscriptionRef.update(health, (previous) => ({
          status,
          lastError: error ?? previous.lastError,
          since: previous.status === status ? previous.since : now
        })))

    /** The session being set up or live. */
    let current: Session | undefined = undefined
    let ready = newReady()
    let closed = false
    let lastError: string | undefined = undefined
    /** Set while the broker refuses this layer for a reason retrying cannot fix. */
    let refused: string | undefined = undefined

    const liveNow = () => current !== undefined && !current.lost ? current.live : undefined

    /** A session ended: the state it held is dropped at once, in amqplib's event. */
    const sessionHandlers = (session: () => Session): Handlers => ({
      ...handlers,
      onLost: (unsettled) => {
        if (current === session()) {
          if (session().live !== undefined) ready = newReady()
          if (closed) Deferred.unsafeDone(ready, Exit.fail(new Errors.LayerClosed()))
        }
        handlers.onLost(unsettled)
      }
    })

    /**
     * One connection, from dialling to its loss. Fails when it could not be set up; succeeds with
     * the reason it was lost once it had been live, and how long it lived.
     */
    const connect = (reconnecting: boolean) =>
      Effect.scoped(Effect.gen(function*() {
        const { model, target } = yield* Effect.acquireRelease(
          Dial.dial(options, `channel-layer ${name.current}`, hooks.lookup),
          ({ model }) => closeModel(model)
        ).pipe(Effect.mapError((error): Failure => ({ reason: error.reason, permanent: error.permanent })))
        const session: Session = new Session(model, sessionHandlers(() => session))
        current = session
        model.on("error", (error: unknown) => {
          session.error = describeError(error)
        })
        model.on("close", (error?: unknown) => {
          session.lose(error === undefined ? session.error ?? "closed" : describeError(error))
        })
        model.on("blocked", (reason: unknown) => {
          log(Effect.logWarning(`RabbitMQ blocked the connection (${String(reason)}): publishes wait until it lifts`))
        })
        model.on("unblocked", () => log(Effect.logInfo("RabbitMQ unblocked the connection")))
        const live = yield* Effect.tryPromise({
          try: () => session.setup(options, name, () => closed, (line) => log(Effect.logWarning(line))),
          catch: (error): Failure => ({
            reason: `${target.label}: ${describeError(error)}`,
            permanent: error instanceof SetupRefused
          })
        }).pipe(
          Effect.raceFirst(
            Effect.flatMap(
              Deferred.await(session.lostSignal),
              (reason) => Effect.fail<Failure>({ reason: `${target.label}: ${reason}`, permanent: false })
            )
          ),
          Effect.tapError((failure) => Effect.sync(() => session.lose(failure.reason)))
        )
        // Published in one step with the check: amqplib events may have ended it meanwhile.
        yield* Effect.suspend(() => {
          if (session.lost) {
            return Effect.fail<Failure>({
              reason: `${target.label}: ${session.error ?? "the connection closed during setup"}`,
              permanent: false
            })
          }
          Deferred.unsafeDone(ready, Exit.succeed(live))
          return Effect.void
        })
        const startedAt = yield* Clock.currentTimeMillis
        yield* setHealth("connected")
        yield* SubscriptionRef.set(connectionsRef, Option.some(model))
        if (reconnecting) {
          Metrics.reconnects.unsafeUpdate(1, Metrics.transportLabel("rabbitmq"))
          yield* Effect.logInfo(
            `reconnected to ${target.label}; queue ${live.queue} declared again, ${session.boundGroups} groups bound again`
          )
        } else {
          yield* Effect.logDebug(`connected to ${target.label}; queue ${live.queue}`)
        }
        const reason = yield* Deferred.await(session.lostSignal)
        yield* SubscriptionRef.set(connectionsRef, Option.none())
        return { reason, uptime: (yield* Clock.currentTimeMillis) - startedAt }
      }))

    /** When the last live connection was lost. */
    let lostAt = Number.NEGATIVE_INFINITY
    let lastFailureLog = Number.NEGATIVE_INFINITY

    /** Logs a failed attempt (at debug level when one was logged less than a few seconds ago). */
    const failed = (attempt: number, reconnecting: boolean, failure: Failure) =>
      Effect.gen(function*() {
        lastError = failure.reason
        yield* setHealth(failure.permanent ? "failed" : "connecting", failure.reason)
        RabbitMQMetrics.connectFailures.unsafeUpdate(1, Metrics.transportLabel("rabbitmq"))
        const now = yield* Clock.currentTimeMillis
        const line = `cannot connect to RabbitMQ (attempt ${attempt}${reconnecting ? " to reconnect" : ""}): ` +
          failure.reason
        if (now - lastFailureLog < FAILURE_LOG_INTERVAL && !failure.permanent) return yield* Effect.logDebug(line)
        lastFailureLog = now
        yield* Effect.logWarning(line)
      })

    const loop = Effect.gen(function*() {
      yield* demanded.await
      yield* setHealth("connecting")
      const driver = yield* Schedule.driver(reconnectSchedule(options.retrySchedule, () => lostAt))
      // A schedule that ends starts over after a second: the layer never stops reconnecting.
      const backoff = (input: unknown) =>
        driver.next(input).pipe(Effect.catchAll(() => Effect.zipRight(driver.reset, Effect.sleep(Duration.seconds(1)))))
      let connectedOnce = false
      let failures = 0
      // Until the layer closes (deleting the queue then cancels the consumer: that is no reason
      // to connect again).
      while (!closed) {
        const outcome = yield* Effect.either(connect(connectedOnce))
        if (outcome._tag === "Left") {
          failures++
          yield* failed(failures, connectedOnce, outcome.left)
          refused = outcome.left.permanent ? outcome.left.reason : undefined
          // Waiting cannot help: fail whoever waits now, and later callers at once, until a
          // connection succeeds (the loop keeps trying).
          if (refused !== undefined && !closed) {
            const waiting = ready
            ready = newReady()
            Deferred.unsafeDone(waiting, Exit.fail(refusedError(refused)))
          }
          yield* backoff(outcome.left.reason)
          continue
        }
        if (closed) break
        connectedOnce = true
        refused = undefined
        failures = 0
        lastError = outcome.right.reason
        lastFailureLog = Number.NEGATIVE_INFINITY
        yield* setHealth("connecting", outcome.right.reason)
        yield* Effect.logWarning(`lost the connection to RabbitMQ: ${outcome.right.reason}; reconnecting`)
        if (outcome.right.uptime < SHORT_LIVED) {
          yield* backoff(outcome.right.reason)
        } else {
          lostAt = yield* Clock.currentTimeMillis
          yield* driver.reset
        }
      }
    }).pipe(Effect.annotateLogs("transport", "rabbitmq"))

    yield* Effect.forkScoped(Effect.interruptible(loop))

    // Registered after the fork, so it runs before the fiber is interrupted: confirms that the
    // closing connection fails then read as LayerClosed. The queue outlives connections, so it is
    // deleted here: senders to its channels then learn at once that they are gone
    // (`ChannelNotFound`) instead of filling a queue nobody reads until `queueExpiry`.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        Deferred.unsafeDone(ready, Exit.fail(new Errors.LayerClosed()))
        const last = liveNow()
        const deleted = last === undefined ?
          Effect.void :
          Effect.tryPromise(() => last.control.deleteQueue(last.queue)).pipe(
            Effect.timeout(Duration.seconds(2)),
            Effect.ignore
          )
        return Effect.zipRight(setHealth("closed"), deleted)
      })
    )

    const awaitLive: Manager["awaitLive"] = Effect.suspend(() => {
      if (closed) return Effect.fail(new Errors.LayerClosed())
      const live = liveNow()
      if (live !== undefined) return Effect.succeed(live)
      if (refused !== undefined) return Effect.fail(refusedError(refused))
      demanded.unsafeOpen()
      return Deferred.await(ready).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(options.waitForConnection),
          onTimeout: () =>
            new Errors.ConnectionClosed({
              reason: `no connection to RabbitMQ within waitForConnection (${options.waitForConnection} ms)` +
                (lastError === undefined ? "" : `; last error: ${lastError}`)
            })
        })
      )
    })

    return {
      queueName: () => name.current,
      current: liveNow,
      control: () => current !== undefined && !current.lost ? current.control : undefined,
      awaitLive,
      demand: () => demanded.unsafeOpen(),
      broken: (broken, reason) => {
        if (current !== undefined && current.live === broken) current.abandon(reason)
      },
      isClosed: () => closed,
      connections: connectionsRef.changes.pipe(Stream.filterMap((model) => model)),
      health
    }
  })
