/**
 * One connection to the broker, from the moment it is dialled to its loss: its channels, the
 * setup that makes it live (declare, bind, consume), and the bookkeeping of how it ended.
 *
 * Setup: a publisher-confirm channel and a control channel; the groups exchange and the
 * instance's queue declared; every group that has members here bound; the prefetch set; the
 * queue consumed. Only then is the session live. amqplib reports trouble through events on the
 * connection and its channels; they end the session synchronously (`lose`), so a publish never goes
 * to a channel known to be closed.
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib"
import { Deferred, Duration, Effect, Exit, FiberId } from "effect"
import { Acker } from "./acker.js"
import { describeError } from "./endpoints.js"
import type { Resolved } from "./options.js"
import { Unconfirmed } from "./returns.js"
import { declareExchange, type QueueName } from "./topology.js"

/** A connection that is set up and serving. */
export interface Live {
  readonly model: ChannelModel
  readonly publisher: ConfirmChannel
  readonly control: Channel
  readonly queue: string
  /** The direct publishes of `publisher` awaiting their confirm (see `Unconfirmed`). */
  readonly unconfirmed: Unconfirmed
}

/** What a session hands to the layer, and asks of it. */
export interface Handlers {
  /** Groups with members here, bound on every (re)connect. */
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

/**
 * How long acks may wait to go out together (see `Acker`): a quarter of the prefetch window, for
 * at most 2 ms.
 */
const ackHold = (prefetch: number) => ({ count: Math.max(1, Math.floor(prefetch / 4)), millis: 2 })

const ignore = () => {}

/** Everything about one connection. */
export class Session {
  /** Set once the session is set up; channel closures then end it. */
  armed = false
  lost = false
  live: Live | undefined = undefined
  /** The channel binds and unbinds go to, from the moment setup issues its own binds. */
  control: Channel | undefined = undefined
  acker: Acker | undefined = undefined
  readonly unconfirmed = new Unconfirmed()
  /** Groups bound during setup. */
  boundGroups = 0
  /** The last error amqplib reported on the connection or a channel. */
  error: string | undefined = undefined
  /** Completes with the reason, once the session is lost. */
  readonly lostSignal = Deferred.unsafeMake<string>(FiberId.none)

  constructor(readonly model: ChannelModel, private readonly handlers: Handlers) {}

  /** Ends the session; idempotent. Runs inside amqplib's events. */
  lose(reason: string): void {
    if (this.lost) return
    this.lost = true
    const unsettled = this.acker?.close() ?? []
    Deferred.unsafeDone(this.lostSignal, Exit.succeed(reason))
    this.handlers.onLost(unsettled)
  }

  /** Ends the session and closes its connection (the connection loop then reconnects). */
  abandon(reason: string): void {
    this.lose(reason)
    this.model.close().catch(ignore)
  }

  /** Watches a channel: once the session is live, its closing ends the session. */
  watch<C extends Channel>(channel: C, role: string): C {
    channel.on("error", (error: unknown) => {
      this.error = `${role} channel: ${describeError(error)}`
    })
    channel.on("close", () => {
      // When the whole connection closes, amqplib closes the channels first and then reports
      // the connection's reason: let that reason win.
      if (this.armed) queueMicrotask(() => this.abandon(this.error ?? `the ${role} channel closed`))
    })
    return channel
  }

  /**
   * Sets the session up (see the module documentation); resolves with it live. `isClosed` says
   * whether the layer closed meanwhile; `log` logs a line outside any fiber.
   */
  async setup(options: Resolved, name: QueueName, isClosed: () => boolean, log: (line: string) => void): Promise<Live> {
    const { handlers, model } = this
    const publisher = this.watch(await model.createConfirmChannel(), "publisher")
    let closedEarly = false
    publisher.once("close", () => closedEarly = true)
    publisher.on("return", (message: ConsumeMessage) => {
      const { exchange, routingKey } = message.fields
      handlers.onReturned(message, exchange === "" && this.unconfirmed.returned(routingKey, message.content))
    })
    const first = this.watch(await model.createChannel(), "control")
    await declareExchange(first, options.groupsExchange)
    const channel = await name.declare(
      first,
      options,
      async () => this.watch(await model.createChannel(), "control"),
      log
    )
    channel.once("close", () => closedEarly = true)
    if (this.lost || isClosed()) throw new Error(this.error ?? "the connection closed during setup")
    // From here on, membership changes issue their bind/unbind on this channel, after these.
    const groups = handlers.groups()
    this.control = channel
    this.boundGroups = groups.length
    const acker = new Acker(channel, options.localCapacity, ackHold(options.localCapacity))
    this.acker = acker
    const queue = name.current
    await Promise.all([
      ...groups.map((group) => channel.bindQueue(queue, options.groupsExchange, group)),
      channel.prefetch(options.localCapacity)
    ])
    await channel.consume(queue, (message) => {
      if (message !== null) return handlers.onDelivery(acker, message, queue)
      // Deleting the queue when the layer closes cancels the consumer: the connection is being
      // closed already.
      if (isClosed()) this.lose("the layer closed")
      else this.abandon(`the broker cancelled the consumer of ${queue}`)
    }, { noAck: false })
    if (closedEarly || this.lost || isClosed()) throw new Error(this.error ?? "a channel closed during setup")
    this.armed = true
    this.live = { model, publisher, control: channel, queue, unconfirmed: this.unconfirmed }
    return this.live
  }
}

/**
 * Closes a connection: politely first (up to 2 s), then, unless amqplib saw it closed by then,
 * the socket. The socket is destroyed with an error: amqplib ends the connection (and stops its
 * heartbeat timers, which would keep the process alive) on a socket error or end, not on a plain
 * destroy.
 */
export const closeModel = (model: ChannelModel): Effect.Effect<void> =>
  Effect.suspend(() => {
    let closed = false
    model.once("close", () => closed = true)
    return Effect.tryPromise(() => model.close()).pipe(
      Effect.timeout(Duration.seconds(2)),
      Effect.ignore,
      Effect.zipRight(Effect.sync(() => {
        if (closed) return
        const stream = (model.connection as unknown as { stream?: { destroy?: (error: Error) => void } }).stream
        stream?.destroy?.(new Error("closed by the channel layer"))
      }))
    )
  })
