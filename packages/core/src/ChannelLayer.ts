/**
 * The channel layer service: the messaging contract of Django Channels (`new_channel`, `send`,
 * `receive`, `group_add`, `group_discard`, `group_send`) as one Effect service. Transports provide
 * it as a Layer: `InMemory.layer`, `RabbitMQ.layer`, `ZeroMQ.layerEmbedded`, ...
 *
 * @since 0.1.0
 */
import type { Tracer } from "effect"
import { Context, Effect, Option, Stream } from "effect"
import type {
  ChannelFull,
  ChannelNotFound,
  ConnectionClosed,
  InvalidChannelName,
  InvalidGroupName,
  InvalidMessage,
  LayerClosed,
  MessageTooLarge
} from "./Errors.js"
import type { Message } from "./Message.js"
import * as Metrics from "./Metrics.js"

/**
 * An optional capability of a layer: `groups` (group_add/discard/send) and `flush` (drop every
 * message and membership, in-memory only), as in the Django spec's `extensions`.
 *
 * @since 0.1.0
 * @category models
 */
export type Extension = "groups" | "flush"

/**
 * The errors `send` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type SendError =
  | InvalidChannelName
  | InvalidMessage
  | MessageTooLarge
  | ChannelFull
  | ChannelNotFound
  | ConnectionClosed
  | LayerClosed

/**
 * The errors `groupSend` can fail with: never `ChannelFull` (a full member misses the message
 * and the layer logs it).
 *
 * @since 0.1.0
 * @category errors
 */
export type GroupSendError = InvalidGroupName | InvalidMessage | MessageTooLarge | ConnectionClosed | LayerClosed

/**
 * The errors `groupAdd` and `groupDiscard` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type GroupMembershipError = InvalidGroupName | InvalidChannelName | ConnectionClosed | LayerClosed

/**
 * What every channel layer implementation provides.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelLayerService {
  /** The optional capabilities this layer has. */
  readonly extensions: ReadonlySet<Extension>
  /**
   * A new process-local channel name that only this layer instance can receive on: in memory
   * `<prefix>.inmemory!<random>`; broker transports put the part that routes to this instance
   * before the `!` and the prefix after it (RabbitMQ: `<queue>!<prefix><random>`). Once it returns, a message sent to the channel is not lost for want of a route.
   * Broker transports fail with `ConnectionClosed` when the first connection cannot be made within
   * their connect bound (the contract of DESIGN.md lists only `LayerClosed`; waiting forever for a
   * broker that is down helps nobody), and with `InvalidChannelName` for a prefix that cannot
   * start a channel name.
   */
  readonly newChannel: (prefix?: string) => Effect.Effect<string, InvalidChannelName | ConnectionClosed | LayerClosed>
  /** Sends a message to one channel: delivered at most once, FIFO per sender and channel. */
  readonly send: (channel: string, message: Message) => Effect.Effect<void, SendError>
  /**
   * Waits for the next message on a channel; each message goes to exactly one receiver. A
   * receive outlives reconnects of the transport: it only ends with a message or `LayerClosed`.
   */
  readonly receive: (channel: string) => Effect.Effect<Message, InvalidChannelName | LayerClosed>
  /** Adds a channel to a group; adding it twice is the same as once. */
  readonly groupAdd: (group: string, channel: string) => Effect.Effect<void, GroupMembershipError>
  /** Removes a channel from a group; removing a non-member is a no-op. */
  readonly groupDiscard: (group: string, channel: string) => Effect.Effect<void, GroupMembershipError>
  /** Sends a message to every member of a group, wherever it lives. */
  readonly groupSend: (group: string, message: Message) => Effect.Effect<void, GroupSendError>
  /** Drops every message and group membership (only where `extensions` has `flush`). */
  readonly flush: Effect.Effect<void, LayerClosed>
}

/**
 * The channel layer service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class ChannelLayer
  extends Context.Tag("@channel-layer/core/ChannelLayer")<ChannelLayer, ChannelLayerService>()
{}

/**
 * Every message that arrives on a channel, as a Stream that ends when the layer closes (and
 * fails on any other receive error).
 *
 * @since 0.1.0
 * @category streams
 */
export const messages = (
  channel: string
): Stream.Stream<Message, InvalidChannelName, ChannelLayer> =>
  Stream.unwrap(
    Effect.map(ChannelLayer, (layer) =>
      Stream.repeatEffectOption(
        layer.receive(channel).pipe(
          Effect.mapError((error) => error._tag === "LayerClosed" ? Option.none() : Option.some(error))
        )
      ))
  )

/** The tracer every Effect program has unless one (OpenTelemetry, say) is provided. */
const defaultTracer = Effect.runSync(Effect.tracer)

/**
 * Wraps an effect in a span only when a real tracer is installed: spans made by Effect's default
 * tracer go nowhere, and making one costs several times what an in-memory send does. The span's
 * options are built only then, too (`key` names the channel or group attribute). The tracer is
 * read from the running fiber, which keeps it at hand (`Effect.tracerWith` would look it up in
 * the fiber's services on every call: about 5 % of an in-memory send and receive).
 */
const traced = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  kind: Tracer.SpanKind,
  transport: string,
  key: "channel" | "group",
  value: string
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    fiber.currentTracer === defaultTracer
      ? effect
      : Effect.withSpan(effect, name, { attributes: { transport, [key]: value }, kind, captureStackTrace: false })
  )

/**
 * Options of {@link instrument}.
 *
 * @since 0.1.0
 * @category models
 */
export interface InstrumentOptions {
  /**
   * The implementation updates `Metrics.messagesSent` itself when a `send` or `groupSend`
   * succeeds (it knows the moment without an extra step: the in-memory layer when it buffered the
   * message, a broker transport when the broker confirmed it), so `instrument` does not wrap each
   * send in a step that counts it.
   */
  readonly countsSent?: boolean
}

/**
 * Wraps an implementation with what every transport records: a span around `send`,
 * `groupSend` and `receive` (named `ChannelLayer.send` ..., with the channel or group and the
 * transport's name as attributes) when a tracer is installed, and the sent-messages metric
 * (unless the implementation counts, see {@link InstrumentOptions}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const instrument = (
  transport: string,
  service: ChannelLayerService,
  options: InstrumentOptions = {}
): ChannelLayerService => {
  // The same labels array every time: Effect caches a metric's hook by the array's identity.
  const labels = Metrics.transportLabel(transport)
  const count = () => Metrics.messagesSent.unsafeUpdate(1, labels)
  // Data-first: the data-last form of `Effect.tap` spreads its captured arguments on every call.
  const countSent: <E>(effect: Effect.Effect<void, E>) => Effect.Effect<void, E> = options.countsSent === true
    ? (effect) => effect
    : (effect) => Effect.tap(effect, count)
  return {
    ...service,
    send: (channel, message) =>
      traced(countSent(service.send(channel, message)), "ChannelLayer.send", "producer", transport, "channel", channel),
    groupSend: (group, message) =>
      traced(
        countSent(service.groupSend(group, message)),
        "ChannelLayer.groupSend",
        "producer",
        transport,
        "group",
        group
      ),
    receive: (channel) =>
      traced(service.receive(channel), "ChannelLayer.receive", "consumer", transport, "channel", channel)
  }
}
