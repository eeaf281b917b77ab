/**
 * The channel layer service: the messaging contract of Django Channels (`new_channel`, `send`,
 * `receive`, `group_add`, `group_discard`, `group_send`) as one Effect service. Transports provide
 * it as a Layer: `InMemory.layer`, `RabbitMQ.layer`, `ZeroMQ.layerEmbedded`, ...
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Effect, Option, Stream } from "effect"
import type * as Backend from "./Backend.js"
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
import * as Service from "./internal/service.js"
import type { Message } from "./Message.js"

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
  /**
   * A new process-local channel name that only this layer instance can receive on: in memory
   * `<prefix>.inmemory!<random>`; broker transports put the part that routes to this instance
   * before the `!` and the prefix after it (RabbitMQ: `<queue>!<prefix><random>`). Once it returns, a message sent to the channel is not lost for want of a route.
   * Broker transports fail with `ConnectionClosed` when the first connection cannot be made within
   * their connect bound (the contract names only `LayerClosed` there; waiting forever for a
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

/**
 * Options of {@link make}: what is the same for every transport's layer, and the transport's
 * backend.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions<B extends Backend.Backend, E, R> {
  /** The transport's name: the `transport` label of metrics and log lines, a span attribute. */
  readonly transport: string
  /** How long (ms) a message waits for a receiver: the deadline of local deliveries. */
  readonly expiry: number
  /** The capacity of each local channel (default: unbounded; a broker's prefetch bounds it). */
  readonly capacityOf?: (channel: string) => number
  /** Deliveries taken from a broker and not yet received at which back-pressure is reported. */
  readonly localCapacity?: number
  /** The largest encoded message `send` and `groupSend` accept, wherever the recipient lives. */
  readonly maxMessageSize?: number
  /** Put the expiry deadline into the envelope, for a receiver in another process (ZeroMQ). */
  readonly deadlineInEnvelope?: boolean
  /** How long (ms) a group membership lasts without a new `groupAdd` (the in-memory layer's). */
  readonly groupExpiry?: number
  /**
   * Makes the backend in the layer's scope, given what core hands it (see `Backend.Context`). It
   * may carry more than `Backend` asks: what the transport exposes next to the service.
   */
  readonly backend: (context: Backend.Context) => Effect.Effect<B, E, R | Scope.Scope>
}

/**
 * A layer instance built by {@link make}: the service, the backend it runs on, and `flush` (drop
 * every buffered message and membership), which only a layer that keeps everything in this
 * process (the in-memory one) offers to its users.
 *
 * @since 0.1.0
 * @category models
 */
export interface Made<B extends Backend.Backend = Backend.Backend> {
  readonly service: ChannelLayerService
  readonly backend: B
  readonly flush: Effect.Effect<void, LayerClosed>
}

/**
 * Builds the `ChannelLayer` service on a transport's backend, in the current scope. Core does
 * what is the same everywhere: the closed state, validation of names, prefixes and messages (in
 * that order), copying, encoding and the size limit, spans and metrics, local buffering, group
 * membership and warnings; the backend moves bytes (see `Backend`). Closing the scope makes every
 * call fail with `LayerClosed`, then closes the backend's resources.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <B extends Backend.Backend, E, R>(
  options: MakeOptions<B, E, R>
) => Effect.Effect<Made<B>, E, R | Scope.Scope> = Service.make
