/**
 * What a transport supplies to build a `ChannelLayer`: a backend, in the manner of
 * `@effect/sql`'s drivers. `ChannelLayer.make` owns everything that is the same on every
 * transport: the closed state, name and prefix validation, copying, encoding and the size limit,
 * the order in which errors are checked, instrumentation, local buffering (`LocalQueues`), group
 * membership as the application sees it, debounced warnings, `receive` and `messages`. A backend
 * supplies only what differs: minting channel names and knowing which are its own, moving
 * encoded bytes to a channel's owner or to a group's members, (un)subscribing groups, and feeding
 * what arrives into the local queues with its settle hook.
 *
 * ```ts
 * // sketch: not compiled
 * const service = yield* ChannelLayer.make({
 *   transport: "mine",
 *   expiry: 60_000,
 *   backend: (context) => Effect.succeed<Backend.Backend>({ ... })
 * })
 * ```
 *
 * The in-memory layer is a loopback backend (every channel is local, every group member too);
 * see `InMemory.ts` for the smallest complete one, and `Conformance` for the suite a backend must
 * pass.
 *
 * @since 0.1.0
 */
import type { Effect, MetricLabel } from "effect"
import type { ChannelFull, ChannelNotFound, ConnectionClosed, LayerClosed } from "./Errors.js"
import type { LocalQueues } from "./LocalQueues.js"
import type { Message } from "./Message.js"
import type { Warnings } from "./Warnings.js"

/**
 * How a backend reaches a channel: `"local"`, delivered into this process's local queues by core
 * without encoding; `"remote"`, encoded by core and handed to {@link Backend.publish}; or, as a
 * string, why this transport cannot send to it (it becomes an `InvalidChannelName`).
 *
 * @since 0.1.0
 * @category models
 */
export type Route = "local" | "remote" | { readonly refused: string }

/**
 * Group membership as a backend sees it. Core keeps the members the application asked for and
 * calls these on each change; `apply` puts the change into the local fan-out. A backend runs it
 * once a group message sent before the change can no longer be mistaken for one sent after it: at
 * once, or (RabbitMQ) when a marker it sent through its own queue comes back.
 *
 * @since 0.1.0
 * @category models
 */
export interface Groups {
  /**
   * Whether core hands a group send to this process's members itself, without the broker
   * (in-memory, ZeroMQ); `false` when they get it through the broker like everyone else
   * (RabbitMQ).
   */
  readonly fanOutLocally: boolean
  /** Whether a group message must leave the process, to members elsewhere ({@link publish} then). */
  readonly leaves: (group: string) => boolean
  /** Publishes an encoded group message to the group's members elsewhere. Never `ChannelFull`. */
  readonly publish: (group: string, body: Uint8Array) => Effect.Effect<void, ConnectionClosed | LayerClosed>
  /**
   * `channel` joins `group`; `first` when no channel of this instance was a member. Completes once
   * a group message sent after it reaches the channel.
   */
  readonly join: (
    group: string,
    channel: string,
    first: boolean,
    apply: () => void
  ) => Effect.Effect<void, ConnectionClosed | LayerClosed>
  /** `channel` is already a member and joins again: completes as {@link join} does. */
  readonly rejoin: (group: string, channel: string) => Effect.Effect<void, ConnectionClosed | LayerClosed>
  /** `channel` leaves `group`; `last` when no channel of this instance is a member any more. */
  readonly leave: (
    group: string,
    channel: string,
    last: boolean,
    apply: () => void
  ) => Effect.Effect<void, ConnectionClosed | LayerClosed>
}

/**
 * A transport's part of a channel layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /**
   * A new channel name for `newChannel(prefix)`. `prefix` has been checked by core (ASCII letters,
   * digits, `-`, `_` and `.`, possibly empty), or is `undefined` when the caller gave none. Core
   * checks the result is a valid channel name. Completes once a message sent to the channel can
   * no longer be lost for want of a route.
   */
  readonly newChannel: (prefix: string | undefined) => Effect.Effect<string, ConnectionClosed | LayerClosed>
  /** How a `send` reaches a (valid) channel. */
  readonly route: (channel: string) => Route
  /**
   * Why this instance cannot `action` the (valid) channel, or `undefined` when it can: only an
   * instance that owns a channel receives on it or adds it to groups.
   */
  readonly refuses: (channel: string, action: "receive on" | "add to a group") => string | undefined
  /** Publishes an encoded direct message to a remote channel (see {@link Route}). */
  readonly publish: (
    channel: string,
    body: Uint8Array
  ) => Effect.Effect<void, ChannelFull | ChannelNotFound | ConnectionClosed | LayerClosed>
  readonly groups: Groups
  /** A `receive` on one of this instance's channels begins (a transport may start connecting). */
  readonly onReceive?: (channel: string) => void
  /**
   * A receive the backend serves itself, for a channel whose messages are not fed into this
   * process's local queues: a normal channel (no `!`) that any number of processes receive on,
   * each message to exactly one of them (Redis: one pop from the channel's shared key per
   * receive). `undefined` for the channels the local queues serve, which is every channel of a
   * backend without this member. The effect ends only with a message or, once the layer closes,
   * `LayerClosed`; if it is interrupted, the message it was taking must not be lost (put it back
   * where another receiver finds it). It counts `channel_layer_messages_received` itself.
   */
  readonly receive?: (channel: string) => Effect.Effect<Message, LayerClosed> | undefined
}

/**
 * What core gives a backend when it builds it: the local queues to feed what arrives into, the
 * groups the application has members in, one warnings sink, and the metric labels.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly queues: LocalQueues
  /** The groups that have at least one member here, as the application asked (for re-binding). */
  readonly groups: () => ReadonlyArray<string>
  readonly warnings: Warnings
  /** `transport=<name>`: the same array every time (Effect caches metric hooks by its identity). */
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}
