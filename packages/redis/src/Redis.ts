/**
 * The Redis channel layer, wire-compatible with Python's `channels_redis` 4.x
 * (`RedisChannelLayer`): a Node process using it and a Django process using `channels_redis`
 * share one Redis and exchange direct and group messages both ways, on process-local and normal
 * channels.
 *
 * ```ts
 * import { ChannelLayer } from "@channel-layer/core"
 * import { Redis } from "@channel-layer/redis"
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
 * program.pipe(Effect.provide(Redis.layer({ hosts: ["redis://127.0.0.1:6379/0"] })))
 * ```
 *
 * Keys and values (channels_redis's):
 * - a channel's messages are a sorted set at `prefix` + the channel's non-local part (the whole
 *   name of a normal channel, up to and including the `!` of a process-local one), scored by send
 *   time in seconds, trimmed by `expiry` on each send, bounded by its capacity (`ChannelFull`),
 *   the key expiring `expiry` after the last send;
 * - a stored message is 12 random bytes, then msgpack of the message (or its Fernet token, with
 *   `symmetricEncryptionKeys`) with `__asgi_channel__`: the channel for a process-local send, the
 *   list of recipients at that key for a group send, none for a send to a normal channel;
 * - a group is a sorted set at `prefix:group:<group>` of channel names scored by join time; a
 *   member older than `groupExpiry` is dropped on the next group send; a group send writes to
 *   every member's key with one Lua script, skipping full ones (never `ChannelFull`);
 * - `newChannel(prefix = "specific")` is `<prefix>.<client prefix>!<32 hex digits>`, the client
 *   prefix 32 hex digits chosen once per instance.
 * - with several `hosts`, keys are sharded as channels_redis shards them (a group on its name's
 *   hash, a channel's messages on its non-local part's, sends to normal channels round robin).
 *
 * Behaviour where channels_redis leaves a choice (see the package README for why):
 * - one receive loop per process-local key and host (every host, because channels_redis's `send`
 *   hashes the full channel name), on its own connection, drains it into core's local queues as
 *   messages arrive, whether a receive waits or not: batches moved atomically into
 *   `<key>$inflight` (recovered after a reconnect), BZPOPMIN when the key is empty; a message for
 *   a local channel that is full is dropped, counted and logged;
 * - sends to this instance's own channels, and group sends to its own members, are delivered
 *   locally without Redis (so a group message and a direct one keep their order);
 * - a normal channel is a work queue: `receive("jobs")` pops one message from its key (on every
 *   host at once, the first wins), in any number of processes, each message to exactly one
 *   receive; an interrupted receive puts back what it popped;
 * - a stored message that does not read (not a message, or a token none of the keys opens) is
 *   dropped, counted (`RedisMetrics`) and logged with its Redis key;
 * - the connection reconnects forever; `send`, `groupSend`, `groupAdd` and `groupDiscard` wait up
 *   to `waitForConnection`, then fail with `ConnectionClosed`; pending receives wait for as long as
 *   it takes; memberships are written again after each reconnect (`ZADD NX`: a Redis that lost
 *   its data gets them back).
 *
 * @since 0.1.0
 */
import { type ChannelCapacity, ChannelLayer, type Errors } from "@channel-layer/core"
import type { ConfigError, Duration, Redacted, Scope } from "effect"
import { Config, Context, Effect, Layer } from "effect"
import * as Internal from "./internal/layer.js"
import { RedisConnection, type RedisConnectionService } from "./RedisConnection.js"

/**
 * A Redis server as host and port (channels_redis's `("host", port)` tuples).
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisHost {
  readonly host: string
  /** Default 6379. */
  readonly port?: number
}

/**
 * A Redis server: `redis://[:password@]host[:port][/db]`, `rediss://…` (TLS) or
 * `unix://[:password@]/path/to/socket[?db=N]`, or a host and port.
 *
 * @since 0.1.0
 * @category models
 */
export type HostInput = string | Redacted.Redacted<string> | RedisHost

/**
 * TLS material for `rediss://` hosts: PEM text as strings, `Redacted` strings or bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisTlsOptions {
  /** Certificate authorities to trust instead of Node's default list. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
  /** The client certificate, for a Redis with `tls-auth-clients yes`. */
  readonly cert?: string | Uint8Array
  /** The client certificate's private key. */
  readonly key?: string | Uint8Array | Redacted.Redacted<string>
  /** The name to check the server's certificate against (default: the host name). */
  readonly servername?: string
  /** Whether an untrusted server certificate fails the connection (default `true`). */
  readonly rejectUnauthorized?: boolean
}

/**
 * Options of the Redis layer: channels_redis's, with its defaults, then this transport's own.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions {
  /**
   * The Redis server (default `redis://localhost:6379`), or several: keys are sharded over them as
   * channels_redis does (groups by the group name's hash, channels by their non-local part's, sends
   * to normal channels round robin); this instance reads its keys and normal channels on every host.
   */
  readonly hosts?: HostInput | ReadonlyArray<HostInput>
  /** The prefix of every key (default `"asgi"`); layers with different prefixes do not see each other. */
  readonly prefix?: string
  /** How long a message waits for a receiver (default 60 s). */
  readonly expiry?: Duration.DurationInput
  /** How long a group membership lasts without a new `groupAdd` (default 1 day). */
  readonly groupExpiry?: Duration.DurationInput
  /** Messages a channel holds before `send` fails with `ChannelFull` (default 100). */
  readonly capacity?: number
  /** Capacity overrides by channel-name pattern, first match wins. */
  readonly channelCapacity?: ChannelCapacity.Overrides
  /**
   * channels_redis's `symmetric_encryption_keys`: secrets (non-empty strings), each hashed with
   * SHA-256 into a Fernet key. Every message is sealed with the first and opened with any of them
   * (list a new secret first and keep the old ones while peers move over); a message none opens,
   * or older than expiry + 10 s, is dropped, counted (`channel_layer_undecryptable_messages`) and
   * logged with its Redis key. Empty or absent: messages are stored unencrypted.
   */
  readonly symmetricEncryptionKeys?: ReadonlyArray<string | Redacted.Redacted<string>>
  /** CA, client certificate and key for `rediss://` hosts. */
  readonly tls?: RedisTlsOptions
  /** How long one connection attempt may take (default 5 s). */
  readonly connectTimeout?: Duration.DurationInput
  /** How long an operation that needs Redis waits for a connection before `ConnectionClosed` (default 10 s). */
  readonly waitForConnection?: Duration.DurationInput
  /** The largest encoded message `send` and `groupSend` accept (default 512 MiB, Redis's largest string). */
  readonly maxMessageSize?: number
}

/**
 * Both services of one layer instance.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisServices {
  readonly channelLayer: ChannelLayer.ChannelLayerService
  readonly connection: RedisConnectionService
}

/**
 * Makes one layer instance that lives as long as the current scope. Fails with `InvalidOptions`
 * when an option is out of range; connecting starts at once, in the background.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: RedisOptions = {}
): Effect.Effect<RedisServices, Errors.InvalidOptions, Scope.Scope> => Internal.make(options)

const toContext = (services: RedisServices) =>
  Context.make(ChannelLayer.ChannelLayer, services.channelLayer).pipe(Context.add(RedisConnection, services.connection))

/**
 * The Redis channel layer as a Layer providing `ChannelLayer` and `RedisConnection`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RedisOptions = {}
): Layer.Layer<ChannelLayer.ChannelLayer | RedisConnection, Errors.InvalidOptions> =>
  Layer.scopedContext(Effect.map(make(options), toContext))

/**
 * The layer with its options read from Effect `Config`, e.g.
 * `Redis.layerConfig({ hosts: Config.redacted("REDIS_URL"), expiry: Config.duration("EXPIRY") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<RedisOptions>
): Layer.Layer<ChannelLayer.ChannelLayer | RedisConnection, ConfigError.ConfigError | Errors.InvalidOptions> =>
  Layer.scopedContext(Effect.flatMap(Config.unwrap(config), (options) => Effect.map(make(options), toContext)))
