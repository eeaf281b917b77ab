/**
 * The connection manager: one background fiber that connects when the layer is first used and
 * then reconnects forever, and the state the send path reads without waiting.
 *
 * Each connection is a session: dial (every address in turn), open a publisher-confirm channel
 * and a control channel, declare the groups exchange and the layer's queue (the same name every
 * time), bind every group that has local members, set the prefetch and consume. Only then is the
 * session live. The first declare retries with a fresh name when the name is taken; later
 * declares keep the name, since channel names handed out embed it.
 *
 * The queue outlives the connection: it is not exclusive, and the broker deletes it only when no
 * connection has used it for `queueExpiry` (`x-expires`), or when the layer closes. A reconnect
 * finds it with its bindings and whatever was sent meanwhile; the deliveries the lost connection
 * left unacknowledged come again, flagged redelivered (see `Redeliveries`). The queue has
 * `x-single-active-consumer`: a new connection's consumer may register while the broker still
 * believes the old one alive (a hung link, until heartbeats tell), and takes over once it is gone.
 *
 * After a connection that was live is lost, reconnect attempts come at most `FAST_RETRY_CAP`
 * apart for `FAST_RETRY_WINDOW` (a broker restart or a cut link is typically back within
 * seconds); after that, `retrySchedule` alone sets the pace.
 *
 * amqplib's events update the state synchronously (a publish never goes to a channel known to be
 * closed); the fiber then closes what is left, logs, backs off along `retrySchedule` and starts
 * over.
 */
import { ChannelName, Errors, Metrics } from "@channel-layer/core"
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options as AmqpOptions } from "amqplib"
import type { Scope } from "effect"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberId,
  Option,
  Runtime,
  Schedule,
  Stream,
  SubscriptionRef
} from "effect"
import * as RabbitMQMetrics from "../RabbitMQMetrics.js"
import { Acker } from "./acker.js"
import * as Dial from "./dial.js"
import { describeError, type Lookup } from "./endpoints.js"
import { exchangeRefused, queueRefused, SetupRefused } from "./errors.js"
import type { Resolved } from "./options.js"
import { Unconfirmed } from "./returns.js"

/** A connection that is set up and serving. */
export interface Live {
  readonly generation: number
  readonly model: ChannelModel
  readonly publisher: ConfirmChannel
  readonly control: Channel
  readonly queue: string
  /** The direct publishes of `publisher` awaiting their confirm (see `Unconfirmed`). */
  readonly unconfirmed: Unconfirmed
}

/** What the manager needs from the layer. */
export interface Handlers {
  /** Groups with local members, bound on every (re)connect. */
  readonly groups: () => ReadonlyArray<string>
  /** One delivery from `queue`; must not throw. */
  readonly onDelivery: (acker: Acker, message: ConsumeMessage, queue: string) => void
  /**
   * A session ended; `unsettled` are the bodies of its deliveries that the broker may hand over
   * again (see `Acker.close`).
   */
  readonly onLost: (unsettled: ReadonlyArray<Uint8Array>) => void
  /**
   * The broker returned a mandatory publish it could not route: a direct send to a queue that
   * does not exist, or a group send no queue is bound for. `ofSend` tells whether it matched a
   * direct send of this layer awaiting its confirm (which then fails).
   */
  readonly onReturned: (message: ConsumeMessage, ofSend: boolean) => void
}

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
}

/**
 * How long acks may wait to go out together (see `Acker`): a quarter of the prefetch window, for
 * at most 2 ms.
 */
const ackHold = (prefetch: number) => ({ count: Math.max(1, Math.floor(prefetch / 4)), millis: 2 })

/** A fresh queue name the way the Python layer makes them. */
export const randomQueueName = (): string => `channels_${ChannelName.randomLetters(12)}`

const NAME_ATTEMPTS = 5

/** A declare refused because the name is taken: locked by another connection, or different arguments. */
const isNameConflict = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code
  return code === 405 || code === 406
}

const ignore = () => {}

/**
 * How the layer's queue is declared: the Python layer's arguments (capacity, overflow, message
 * TTL) and what keeps it across reconnects (not exclusive, `x-expires`, a single active consumer).
 * A quorum queue is durable by nature; a classic one is not, and goes with its node.
 */
export const queueOptions = (options: Resolved): AmqpOptions.AssertQueue => ({
  exclusive: false,
  durable: options.queueType === "quorum",
  autoDelete: false,
  arguments: {
    ...(options.queueType === "quorum" ? { "x-queue-type": "quorum" } : {}),
    "x-max-length": options.remoteCapacity,
    "x-overflow": "reject-publish",
    "x-message-ttl": Math.trunc(options.expiry),
    "x-expires": options.queueExpiry,
    "x-single-active-consumer": true
  }
})

/** Why a connection attempt failed, and whether retrying can help. */
interface Failure {
  readonly reason: string
  readonly permanent: boolean
}

/** Everything about one connection attempt. */
class Session {
  /** Set once the session is set up; channel closures then end it. */
  armed = false
  lost = false
  live: Live | undefined = undefined
  control: Channel | undefined = undefined
  acker: Acker | undefined = undefined
  readonly unconfirmed = new Unconfirmed()
  /** Groups bound during setup. */
  boundGroups = 0
  /** The last error amqplib reported on the connection or a channel. */
  error: string | undefined = undefined
  readonly lostSignal = Deferred.unsafeMake<string>(FiberId.none)
  constructor(readonly generation: number, readonly model: ChannelModel) {}
}

/** Closes a connection: politely first, then the socket. */
const closeModel = (model: ChannelModel) =>
  Effect.tryPromise(() => model.close()).pipe(
    Effect.timeout(Duration.seconds(2)),
    Effect.ignore,
    Effect.zipRight(Effect.sync(() => {
      const stream = (model.connection as unknown as { stream?: { destroy?: () => void } }).stream
      stream?.destroy?.()
    }))
  )

/** How far apart reconnect attempts are at most, right after a live connection was lost. */
export const FAST_RETRY_CAP = Duration.millis(500)

/** How long after a live connection was lost reconnect attempts keep to `FAST_RETRY_CAP`. */
export const FAST_RETRY_WINDOW = Duration.seconds(30)

/** Connect failures within this interval of a logged one are logged at debug level only. */
const FAILURE_LOG_INTERVAL = 5000

/**
 * Makes the manager; its fiber lives in the current scope, and closing the scope deletes the
 * queue and closes the connection.
 */
export const make = (
  options: Resolved,
  handlers: Handlers,
  hooks: Hooks = {}
): Effect.Effect<Manager, never, Scope.Scope> =>
  Effect.gen(function*() {
    const nextName = hooks.queueName ?? randomQueueName
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const demanded = yield* Effect.makeLatch(false)
    const connectionsRef = yield* SubscriptionRef.make(Option.none<ChannelModel>())

    let queueName = nextName()
    let nameFinal = false
    let live: Live | undefined = undefined
    let liveSession: Session | undefined = undefined
    let control: Channel | undefined = undefined
    let ready = Deferred.unsafeMake<Live, Errors.ConnectionClosed | Errors.LayerClosed>(FiberId.none)
    let closed = false
    let lastError: string | undefined = undefined
    /** Set while the broker refuses this layer for a reason retrying cannot fix. */
    let refused: string | undefined = undefined
    const refusedError = (reason: string) =>
      new Errors.ConnectionClosed({
        reason: `RabbitMQ refused the connection, and waiting will not change that: ${reason}`
      })

    const log = (effect: Effect.Effect<void>) => {
      runFork(effect.pipe(Effect.annotateLogs({ transport: "rabbitmq", queue: queueName })))
    }

    /** Ends a session's claim on the shared state; idempotent. Runs inside amqplib's events. */
    const lose = (session: Session, reason: string) => {
      if (session.lost) return
      session.lost = true
      const unsettled = session.acker?.close() ?? []
      if (control !== undefined && control === session.control) control = undefined
      if (live !== undefined && live === session.live) {
        live = undefined
        liveSession = undefined
        ready = Deferred.unsafeMake<Live, Errors.ConnectionClosed | Errors.LayerClosed>(FiberId.none)
        if (closed) Deferred.unsafeDone(ready, Exit.fail(new Errors.LayerClosed()))
      }
      Deferred.unsafeDone(session.lostSignal, Exit.succeed(reason))
      handlers.onLost(unsettled)
    }

    /** Ends a session and closes its connection (the loop then reconnects). */
    const abandon = (session: Session, reason: string) => {
      lose(session, reason)
      session.model.close().catch(ignore)
    }

    const watch = (session: Session, channel: Channel, role: string) => {
      channel.on("error", (error: unknown) => {
        session.error = `${role} channel: ${describeError(error)}`
      })
      channel.on("close", () => {
        // When the whole connection closes, amqplib closes the channels first and then reports
        // the connection's reason: let that reason win.
        if (session.armed) queueMicrotask(() => abandon(session, session.error ?? `the ${role} channel closed`))
      })
      return channel
    }

    const declareQueue = async (session: Session, first: Channel): Promise<Channel> => {
      let channel = first
      for (let attempt = 1;; attempt++) {
        try {
          await channel.assertQueue(queueName, queueOptions(options))
          nameFinal = true
          return channel
        } catch (error) {
          if (nameFinal || session.lost || attempt >= NAME_ATTEMPTS || !isNameConflict(error)) {
            throw queueRefused(queueName, error)
          }
          const taken = queueName
          queueName = nextName()
          log(Effect.logWarning(
            `queue name ${taken} is taken (${describeError(error)}); trying ${queueName} instead`
          ))
          channel = watch(session, await session.model.createChannel(), "control")
        }
      }
    }

    /** Sets up a dialled connection; resolves with the live session. */
    const setup = async (session: Session): Promise<Live> => {
      const { model } = session
      const publisher = watch(session, await model.createConfirmChannel(), "publisher") as ConfirmChannel
      let closedEarly = false
      publisher.once("close", () => closedEarly = true)
      publisher.on("return", (message: ConsumeMessage) => {
        const { exchange, routingKey } = message.fields
        handlers.onReturned(message, exchange === "" && session.unconfirmed.returned(routingKey, message.content))
      })
      const first = watch(session, await model.createChannel(), "control")
      await first.assertExchange(options.groupsExchange, "direct", { durable: false, autoDelete: false }).catch(
        (error) => Promise.reject(exchangeRefused(options.groupsExchange, error))
      )
      const channel = await declareQueue(session, first)
      channel.once("close", () => closedEarly = true)
      if (session.lost || closed) throw new Error(session.error ?? "the connection closed during setup")
      // From here on, membership changes issue their bind/unbind on this channel, after these.
      const groups = handlers.groups()
      control = channel
      session.control = channel
      session.boundGroups = groups.length
      const acker = new Acker(channel, options.localCapacity, ackHold(options.localCapacity))
      session.acker = acker
      const queue = queueName
      await Promise.all([
        ...groups.map((group) => channel.bindQueue(queue, options.groupsExchange, group)),
        channel.prefetch(options.localCapacity)
      ])
      await channel.consume(queue, (message) => {
        if (message === null) abandon(session, `the broker cancelled the consumer of ${queue}`)
        else handlers.onDelivery(acker, message, queue)
      }, { noAck: false })
      if (closedEarly || session.lost || closed) throw new Error(session.error ?? "a channel closed during setup")
      session.armed = true
      const result: Live = {
        generation: session.generation,
        model,
        publisher,
        control: channel,
        queue,
        unconfirmed: session.unconfirmed
      }
      session.live = result
      return result
    }

    /**
     * One connection, from dialling to its loss. Fails when it could not be set up; succeeds with
     * the reason it was lost once it had been live.
     */
    const session = (generation: number, reconnecting: boolean) =>
      Effect.scoped(Effect.gen(function*() {
        const { model, target } = yield* Effect.acquireRelease(
          Dial.dial(options, `channel-layer ${queueName}`, hooks.lookup),
          ({ model }) => closeModel(model)
        ).pipe(Effect.mapError((error): Failure => ({ reason: error.reason, permanent: error.permanent })))
        const session = new Session(generation, model)
        model.on("error", (error: unknown) => {
          session.error = describeError(error)
        })
        model.on("close", (error?: unknown) => {
          lose(session, error === undefined ? session.error ?? "closed" : describeError(error))
        })
        model.on("blocked", (reason: unknown) => {
          log(Effect.logWarning(`RabbitMQ blocked the connection (${String(reason)}): publishes wait until it lifts`))
        })
        model.on("unblocked", () => log(Effect.logInfo("RabbitMQ unblocked the connection")))
        const result = yield* Effect.tryPromise({
          try: () => setup(session),
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
          Effect.tapError((failure) => Effect.sync(() => lose(session, failure.reason)))
        )
        // Publish it in one step with the check: amqplib events may have ended it meanwhile.
        yield* Effect.suspend(() => {
          if (session.lost) {
            return Effect.fail<Failure>({
              reason: `${target.label}: ${session.error ?? "the connection closed during setup"}`,
              permanent: false
            })
          }
          live = result
          liveSession = session
          Deferred.unsafeDone(ready, Exit.succeed(result))
          return Effect.void
        })
        const startedAt = yield* Clock.currentTimeMillis
        yield* SubscriptionRef.set(connectionsRef, Option.some(model))
        if (reconnecting) {
          Metrics.reconnects.unsafeUpdate(1, Metrics.transportLabel("rabbitmq"))
          yield* Effect.logInfo(
            `reconnected to ${target.label}; queue ${result.queue} declared again, ${session.boundGroups} groups bound again`
          )
        } else {
          yield* Effect.logDebug(`connected to ${target.label}; queue ${result.queue}`)
        }
        const reason = yield* Deferred.await(session.lostSignal)
        yield* SubscriptionRef.set(connectionsRef, Option.none())
        return { reason, uptime: (yield* Clock.currentTimeMillis) - startedAt }
      }))

    /** When the last live connection was lost: attempts soon after that are kept close together. */
    let lostAt = Number.NEGATIVE_INFINITY
    const retrySchedule = Schedule.modifyDelayEffect(
      options.retrySchedule,
      (_, delay) =>
        Effect.map(Clock.currentTimeMillis, (now): Duration.DurationInput =>
          now - lostAt < Duration.toMillis(FAST_RETRY_WINDOW)
            // Jittered, so that many processes cut at once do not come back in step.
            ? Duration.min(delay, Duration.times(FAST_RETRY_CAP, 0.8 + 0.4 * Math.random()))
            : delay)
    )
    let lastFailureLog = Number.NEGATIVE_INFINITY

    const loop = Effect.gen(function*() {
      yield* demanded.await
      const driver = yield* Schedule.driver(retrySchedule)
      const backoff = (input: unknown) =>
        driver.next(input).pipe(
          Effect.catchAll(() =>
            Effect.zipRight(driver.reset, Effect.sleep(Duration.seconds(1)))
          )
        )
      let connectedOnce = false
      let failures = 0
      for (let generation = 1;; generation++) {
        const outcome = yield* Effect.either(session(generation, connectedOnce))
        if (outcome._tag === "Left") {
          failures++
          const { permanent, reason } = outcome.left
          lastError = reason
          RabbitMQMetrics.connectFailures.unsafeUpdate(1, Metrics.transportLabel("rabbitmq"))
          const now = yield* Clock.currentTimeMillis
          const line = `cannot connect to RabbitMQ (attempt ${failures}${
            connectedOnce ? " to reconnect" : ""
          }): ${reason}`
          if (now - lastFailureLog >= FAILURE_LOG_INTERVAL || permanent) {
            lastFailureLog = now
            yield* Effect.logWarning(line)
          } else {
            yield* Effect.logDebug(line)
          }
          refused = permanent ? reason : undefined
          // Waiting cannot help: fail whoever waits now, and later callers at once, until a
          // connection succeeds (the loop keeps trying).
          if (permanent && !closed) {
            const waiting = ready
            ready = Deferred.unsafeMake<Live, Errors.ConnectionClosed | Errors.LayerClosed>(FiberId.none)
            Deferred.unsafeDone(waiting, Exit.fail(refusedError(reason)))
          }
          yield* backoff(reason)
          continue
        }
        connectedOnce = true
        refused = undefined
        failures = 0
        lastError = outcome.right.reason
        lastFailureLog = Number.NEGATIVE_INFINITY
        yield* Effect.logWarning(`lost the connection to RabbitMQ: ${outcome.right.reason}; reconnecting`)
        // A connection that dies right after it opened is a failure too: back off.
        if (outcome.right.uptime < 1000) {
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
        const last = live
        if (last === undefined) return Effect.void
        return Effect.tryPromise(() => last.control.deleteQueue(last.queue)).pipe(
          Effect.timeout(Duration.seconds(2)),
          Effect.ignore
        )
      })
    )

    const awaitLive: Manager["awaitLive"] = Effect.suspend(() => {
      if (closed) return Effect.fail(new Errors.LayerClosed())
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
      queueName: () => queueName,
      current: () => live,
      control: () => control,
      awaitLive,
      demand: () => demanded.unsafeOpen(),
      broken: (broken, reason) => {
        if (broken === live && liveSession !== undefined) abandon(liveSession, reason)
      },
      isClosed: () => closed,
      connections: connectionsRef.changes.pipe(Stream.filterMap((model) => model))
    }
  })
