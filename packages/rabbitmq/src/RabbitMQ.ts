/**
 * The RabbitMQ channel layer, wire-compatible with Python's `channels_rabbitmq`: a Node process
 * using it and a Django process using `channels_rabbitmq` share one broker and exchange direct
 * and group messages both ways.
 *
 * ```ts
 * import { ChannelLayer } from "@channel-layer/core"
 * import { RabbitMQ } from "@channel-layer/rabbitmq"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const layer = yield* ChannelLayer.ChannelLayer
 *   const me = yield* layer.newChannel()
 *   yield* layer.groupAdd("room-42", me)
 *   yield* layer.groupSend("room-42", { type: "chat.message", text: "hello" })
 *   return yield* layer.receive(me)
 * })
 *
 * program.pipe(Effect.provide(RabbitMQ.layer({ url: "amqp://guest:guest@127.0.0.1/asgi" })))
 * ```
 *
 * Topology and wire format (as the Python layer's, but for the queue's lifetime):
 * - one queue per layer instance, `channels_` + 12 random letters, chosen once and declared again
 *   under the same name after each reconnect, with `x-max-length` = `remoteCapacity`,
 *   `x-overflow` = `reject-publish` and `x-message-ttl` = `expiry` in ms. Unlike the Python
 *   layer's, it is not exclusive: it outlives its connection, with its bindings and whatever is
 *   sent to it meanwhile, until `queueExpiry` (`x-expires`) after the last connection, or until the
 *   layer closes (which deletes it). It has `x-single-active-consumer`, so one connection at a
 *   time reads it. With `queueType: "quorum"` it is a replicated quorum queue;
 * - channels are `<queue>!<12 random letters>`; a direct send publishes on the default exchange
 *   with the queue as routing key; only the instance that owns the queue receives on them;
 * - one direct, non-durable, non-auto-delete exchange `groupsExchange`; the queue is bound with
 *   routing key = group when the group's first local member joins and unbound when the last
 *   leaves; a group send is one publish on that exchange, whatever the number of members;
 * - bodies are msgpack of the message plus `__asgi_channel__` or `__asgi_group__` (core's `Codec`).
 *
 * Behaviour where the Python layer leaves a choice:
 * - Connecting starts with the first call of any operation (`receive` included) and runs in a
 *   background fiber that reconnects forever along `retrySchedule`, with attempts at most 500 ms
 *   apart for 30 s after a live connection was lost. Pending receives survive reconnects;
 *   deliveries already buffered locally are still handed out, and their redeliveries by the
 *   broker (which never saw them acknowledged) are recognised and dropped.
 * - `newChannel` returns once the queue exists. `newChannel(prefix)` puts the prefix after the
 *   `!` (`<queue>!<prefix><12 letters>`), since the part before it must be the queue.
 * - `send`, `groupSend`, `newChannel` and `groupAdd` wait up to `waitForConnection` for a
 *   connection, then fail with `ConnectionClosed`. A publish whose confirm is lost with its
 *   connection fails with `ConnectionClosed` (it may or may not have been delivered).
 * - Every publish is `mandatory`. A direct send that no queue takes (the channel's instance is
 *   gone) fails with `ChannelNotFound`; a group send that no queue takes (no member anywhere)
 *   succeeds and is counted (`RabbitMQMetrics.groupSendsUnroutable`).
 * - A `send` to a channel of this same instance that already buffers `remoteCapacity` messages
 *   fails with `ChannelFull` before publishing: one unread channel must not fill the queue that
 *   all the instance's channels share. Sends to other instances are limited by their queue.
 * - `groupAdd` takes only this instance's channels (a group delivers through the instance's own
 *   queue); the membership is kept if it then fails with `ConnectionClosed`, and bound on the
 *   next connection. `groupDiscard` never waits for the broker.
 * - A delivery that does not decode is logged (at most once a second), acknowledged and dropped.
 *
 * @since 0.1.0
 */
import { ChannelLayer, type Errors } from "@channel-layer/core"
import type { ConfigError, Duration, Redacted, Schedule, Scope } from "effect"
import { Config, Context, Effect, Layer } from "effect"
import * as Internal from "./internal/layer.js"
import * as InternalOptions from "./internal/options.js"
import { RabbitMQConnection, type RabbitMQConnectionService } from "./RabbitMQConnection.js"

/**
 * TLS material for `amqps://` URLs: PEM text as strings, `Redacted` strings or bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** Certificate authorities to trust instead of Node's default list. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
  /** The client certificate, for brokers that verify peers. */
  readonly cert?: string | Uint8Array
  /** The client certificate's private key. */
  readonly key?: string | Uint8Array | Redacted.Redacted<string>
  /** The passphrase of an encrypted key. */
  readonly passphrase?: string | Redacted.Redacted<string>
  /** The name to check the broker's certificate against (default: the URL's host name). */
  readonly servername?: string
  /** Whether an untrusted broker certificate fails the connection (default `true`). */
  readonly rejectUnauthorized?: boolean
}

/**
 * Options of the RabbitMQ layer. The first seven are the Python layer's, with its defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface RabbitMQOptions {
  /**
   * The broker: `amqp://user:password@host:port/vhost` or `amqps://...` (port 5671), default
   * `amqp://guest:guest@127.0.0.1/asgi`. Query parameters `heartbeat`, `frameMax`, `channelMax`
   * and `locale` tune the connection. A list of URLs (a cluster) is tried in order, and a host name
   * that resolves to several addresses is tried at each address in turn.
   */
  readonly url?: string | Redacted.Redacted<string> | ReadonlyArray<string | Redacted.Redacted<string>>
  /** How long a message waits in the broker queue before it is dropped (default 60 s): `x-message-ttl`. */
  readonly expiry?: Duration.DurationInput
  /** Deliveries buffered in this process and not yet received (default 100): the consumer prefetch. */
  readonly localCapacity?: number
  /** How long a delivery waits in the local buffer for a receiver (default: `expiry`). */
  readonly localExpiry?: Duration.DurationInput
  /** Messages the broker queue holds before sends to it fail with `ChannelFull` (default 100): `x-max-length`. */
  readonly remoteCapacity?: number
  /**
   * How long the instance's queue outlives its connection: its `x-expires` (default: `expiry` +
   * 60 s). While the process reconnects, the queue keeps its group bindings and whatever is sent
   * to it meanwhile; a process away for longer is taken for gone: the broker deletes the queue,
   * and sends to its channels fail with `ChannelNotFound`.
   */
  readonly queueExpiry?: Duration.DurationInput
  /**
   * The kind of the instance's queue. `"classic"` (default): non-durable, on the node the instance
   * connects to; it outlives reconnects, but not the loss or restart of that node. `"quorum"`: a
   * quorum queue, replicated on the cluster's nodes, that outlives the loss of a minority of them
   * and restarts; each publish is confirmed once a majority wrote it to disk, which makes sends
   * slower (see the package README for measurements and when to use it).
   */
  readonly queueType?: "classic" | "quorum"
  /** CA, client certificate and key for `amqps://` URLs. */
  readonly tls?: TlsOptions
  /** The direct exchange that carries group messages (default `"groups"`). Layers with different ones do not see each other's groups. */
  readonly groupsExchange?: string
  /** How long one address may take to accept the connection and finish the AMQP handshake (default 5 s). */
  readonly connectTimeout?: Duration.DurationInput
  /** The delays between connection attempts (default: exponential from 100 ms, capped at 5 s, jittered). A schedule that ends starts over after a second: the layer never stops reconnecting. */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown>
  /** How long an operation that needs the broker (`send`, `groupSend`, `newChannel`, `groupAdd`) waits for a connection before failing with `ConnectionClosed` (default 10 s). */
  readonly waitForConnection?: Duration.DurationInput
  /**
   * How long `send` and `groupSend` wait for the broker's confirm once published before failing
   * with `ConnectionClosed` (default: no bound; a dead connection is noticed by the heartbeat,
   * but a connection the broker blocks, during a memory or disk alarm, holds sends until it lifts).
   * A send that fails this way may still be delivered.
   */
  readonly confirmTimeout?: Duration.DurationInput
  /**
   * The AMQP heartbeat (default: the broker's proposal, 60 s on RabbitMQ): a duration of whole
   * seconds from 1 to 65535 (`"10 seconds"`), or 0 for none. As for every duration option, a plain
   * number counts milliseconds: `10_000` is 10 s, and `2` (2 ms) is refused. A dead peer is noticed
   * after about two heartbeats.
   */
  readonly heartbeat?: Duration.DurationInput
  /** The largest encoded message `send` and `groupSend` accept (default 128 MiB, RabbitMQ's `max_message_size`). */
  readonly maxMessageSize?: number
}

/**
 * The default broker URL, the Python layer's.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_URL: string = InternalOptions.DEFAULT_URL

/**
 * The default `retrySchedule`: exponential from 100 ms, capped at 5 s, then jittered.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = InternalOptions.defaultRetrySchedule

/**
 * Both services of one layer instance.
 *
 * @since 0.1.0
 * @category models
 */
export interface RabbitMQServices {
  readonly channelLayer: ChannelLayer.ChannelLayerService
  readonly connection: RabbitMQConnectionService
}

/**
 * Makes one layer instance that lives as long as the current scope; closing it deletes the queue,
 * closes the connection and ends pending receives with `LayerClosed`. Fails
 * with `InvalidOptions` when an option is out of range; connecting waits for the first use.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: RabbitMQOptions = {}
): Effect.Effect<RabbitMQServices, Errors.InvalidOptions, Scope.Scope> => Internal.make(options)

const toContext = (services: RabbitMQServices) =>
  Context.make(ChannelLayer.ChannelLayer, services.channelLayer).pipe(
    Context.add(RabbitMQConnection, services.connection)
  )

/**
 * The RabbitMQ channel layer as a Layer providing `ChannelLayer` and `RabbitMQConnection`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RabbitMQOptions = {}
): Layer.Layer<ChannelLayer.ChannelLayer | RabbitMQConnection, Errors.InvalidOptions> =>
  Layer.scopedContext(Effect.map(make(options), toContext))

/**
 * The layer with its options read from Effect `Config`, e.g.
 * `RabbitMQ.layerConfig({ url: Config.redacted("AMQP_URL"), expiry: Config.duration("EXPIRY") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<RabbitMQOptions>
): Layer.Layer<ChannelLayer.ChannelLayer | RabbitMQConnection, ConfigError.ConfigError | Errors.InvalidOptions> =>
  Layer.scopedContext(
    Effect.flatMap(Config.unwrap(config), (options) => Effect.map(make(options), toContext))
  )
