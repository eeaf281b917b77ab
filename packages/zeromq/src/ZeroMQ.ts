/**
 * The ZeroMQ transports of the channel layer.
 *
 * - `layerEmbedded`: every process binds a PUB socket (`publishAddress`) and connects one SUB
 *   socket to the PUB sockets of its peers (`subscribeAddresses`). No broker.
 * - `layerDedicated`: every process PUSHes to a proxy (`pushAddress`) and connects one SUB socket
 *   to the proxy's PUB socket (`subscribeAddress`). Run the proxy with the
 *   `channel-layer-zmq-proxy` bin or `ZeroMQProxy.run`.
 *
 * Topology and wire format: one SUB socket per process, subscribed to `c:<client id>\0` (its
 * direct messages; channel names are `<prefix>.<client id>!<random>`) and to `g:<group>\0` for
 * each group with local members (subscribed when the first local member joins, unsubscribed when
 * the last leaves). A message is the topic frame (`c:<client id>\0`, or
 * `g:<group>\0<sender id>`) and the msgpack body of core's `Codec` (the message, the
 * `__asgi_channel__` or `__asgi_group__` envelope and the `__asgi_expires__` deadline in epoch
 * ms); consecutive messages for one topic travel packed in one multipart message, the topic then
 * each body. Local delivery goes through core's `LocalQueues` (capacity per channel, expiry; see
 * `fullChannelTimeout` for what a full channel does to messages from other processes).
 *
 * No slow-joiner loss: `newChannel` and `groupAdd` return only once every publisher the SUB socket
 * reaches has acknowledged the subscription (publishers answer each subscribe on the subscribed
 * topic), and a publisher holds a direct message for a process that has not subscribed to it yet
 * for up to `confirmTimeout`, releasing it when the subscription arrives. A publisher that has
 * just bound its socket (the embedded layer, the proxy) holds everything back for `settle`, so
 * that subscribers already trying to connect to it subscribe first. What is not covered: a group
 * message sent by a publisher that a member's SUB socket has still not connected to after that
 * (a peer whose reconnection takes longer than `settle`), the PUB/SUB restart window.
 *
 * @since 0.1.0
 */
import { type Backend, type ChannelCapacity, ChannelLayer, ChannelName, Errors } from "@channel-layer/core"
import type { ConfigError, Scope } from "effect"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Schedule, Stream, SubscriptionRef } from "effect"
import * as zmq from "zeromq"
import * as ZeroMQBackend from "./internal/Backend.js"
import * as Confirmations from "./internal/Confirmations.js"
import * as Exposure from "./internal/Exposure.js"
import * as Monitor from "./internal/Monitor.js"
import * as Outbox from "./internal/Outbox.js"
import * as Publisher from "./internal/Publisher.js"
import * as Settings from "./internal/Settings.js"
import * as Sockets from "./internal/Sockets.js"
import * as Subscriber from "./internal/Subscriber.js"
import * as Topics from "./internal/Topics.js"
import * as Zap from "./internal/Zap.js"

/**
 * CURVE encryption and authentication. Keys are 40-character Z85 strings (`curveKeyPair`).
 *
 * - `secretKey` (with `publicKey`): this process's key pair. The embedded layer's PUB socket is a
 *   CURVE server with it; connecting sockets use it as their client key pair (a fresh pair is
 *   made when it is absent).
 * - `serverPublicKey`: the public key of the PUB sockets this layer's SUB socket connects to
 *   (embedded: the peers'; a deployment usually shares one server key pair) or of the proxy
 *   (dedicated). Setting it turns CURVE on for the connecting sockets.
 * - `authorizedKeys`: the client public keys the embedded PUB socket accepts (a ZAP handler
 *   refuses every other client). Absent: any client that knows the server key.
 *
 * @since 0.1.0
 * @category models
 */
export interface CurveOptions {
  readonly publicKey?: string
  readonly secretKey?: string
  readonly serverPublicKey?: string
  readonly authorizedKeys?: ReadonlyArray<string>
}

/**
 * Options both modes share, with their defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Messages a local channel buffers (default 100); see the module docs for what is rejected. */
  readonly capacity?: number
  /** Capacity overrides by channel-name pattern, first match wins. */
  readonly channelCapacity?: ChannelCapacity.Overrides
  /** How long an undelivered message is kept (default 60 seconds); the deadline travels with it. */
  readonly expiry?: Duration.DurationInput
  /**
   * How long `newChannel` and `groupAdd` wait for the publishers to acknowledge a subscription
   * before failing with `ConnectionClosed`, and how long a publisher holds a direct message for a
   * process that has not subscribed yet (default 5 seconds).
   */
  readonly confirmTimeout?: Duration.DurationInput
  /**
   * How long a send waits for room when the sending socket is at its high-water mark and
   * `sendHighWaterMark` messages already wait for it, before failing with `ChannelFull` (default
   * 1 second; 0 fails at once).
   */
  readonly sendTimeout?: Duration.DurationInput
  /**
   * How long the SUB socket stops reading when a message arrives for a local channel that is full,
   * waiting for room (default 1 second). Meanwhile ZeroMQ's high-water marks fill up and the
   * senders' sends wait and then fail with ChannelFull: the back-pressure reaches them instead of
   * messages being dropped here. A channel still full after that is taken for abandoned: its
   * messages are dropped (counted and logged) until it has room again, and reading goes on.
   */
  readonly fullChannelTimeout?: Duration.DurationInput
  /** The sending socket's high-water mark, and how many messages more may wait for it (default 1000). */
  readonly sendHighWaterMark?: number
  /** The SUB socket's receive high-water mark (default 1000). */
  readonly receiveHighWaterMark?: number
  /**
   * The largest encoded body a send or group send accepts, in bytes (default 8 MiB), wherever the
   * recipient is: a message that stays in this process is held to the size it would have on the wire.
   */
  readonly maxMessageSize?: number
  /** How long closing waits for queued messages to go out (default 1 second). */
  readonly linger?: Duration.DurationInput
  /** Time between reconnection attempts (default 100 ms). */
  readonly reconnectInterval?: Duration.DurationInput
  /** ZMTP heartbeat interval (default 1 second); a dead or stuck peer is dropped after `heartbeatTimeout`. */
  readonly heartbeatInterval?: Duration.DurationInput
  /** How long without traffic after a heartbeat before the connection is dropped (default 5 seconds). */
  readonly heartbeatTimeout?: Duration.DurationInput
  readonly curve?: CurveOptions
}

/**
 * Options of the embedded layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedOptions extends CommonOptions {
  /**
   * Where this process binds its PUB socket, e.g. `tcp://127.0.0.1:5555` (`tcp://127.0.0.1:*` picks
   * a port). An address beyond loopback without CURVE (`curve.secretKey`) is logged as a warning:
   * anyone who can reach it reads and sends messages.
   */
  readonly publishAddress: string
  /** The PUB sockets of the peers this process receives from (may include its own address). */
  readonly subscribeAddresses?: string | ReadonlyArray<string>
  /**
   * How long after binding the PUB socket holds back what is sent (queued, not lost), so that
   * processes already trying to connect (every `reconnectInterval`) subscribe first (default
   * 300 ms).
   */
  readonly settle?: Duration.DurationInput
}

/**
 * Options of the dedicated layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface DedicatedOptions extends CommonOptions {
  /** The proxy's PULL socket, e.g. `tcp://proxy:5557`. */
  readonly pushAddress: string
  /** The proxy's PUB socket, e.g. `tcp://proxy:5556`. */
  readonly subscribeAddress: string
}

/**
 * Where a layer instance's connections stand. Dedicated: `connected` once both the PUSH and the
 * SUB socket completed a handshake with the proxy, `connecting` while either has none (the proxy
 * is down or unreachable). Embedded: always `connected` (there is no broker to wait for; peers
 * come and go), with the last problem reaching a peer as `lastError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Health {
  readonly status: "connecting" | "connected"
  /** The last connection problem (a refused connection, a failed CURVE handshake), spelled out. */
  readonly lastError: string | undefined
  /** When `status` took its value, in epoch milliseconds (the `Clock`'s). */
  readonly since: number
}

/**
 * What a ZeroMQ layer instance is, and how its connections stand.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportInfo {
  readonly mode: "embedded" | "dedicated"
  /** This instance's client id: the part of its channel names before `!`, after the last `.`. */
  readonly clientId: string
  /** Embedded: the endpoint the PUB socket is bound to (the port resolved). */
  readonly publishEndpoint: string | undefined
  /** The connections' health now. */
  readonly health: Effect.Effect<Health>
  /** The current health, then each change. */
  readonly healthChanges: Stream.Stream<Health>
  /** Completes once the instance is `connected` (dedicated: once the proxy answered both sockets). */
  readonly awaitReady: Effect.Effect<void>
  /** `awaitReady` within `timeout`, else `ConnectionClosed` naming the last error. */
  readonly awaitReadyWithin: (timeout: Duration.DurationInput) => Effect.Effect<void, Errors.ConnectionClosed>
}

/** How often the health is read off the sockets' monitors. */
const HEALTH_POLL = Duration.millis(100)

/**
 * The health of an instance whose connections are up when `up()` holds, read every `HEALTH_POLL`
 * by a fiber of the current scope.
 */
const watchHealth = (up: () => boolean, problem: () => string | undefined, describe: string) =>
  Effect.gen(function*() {
    const status = (): Health["status"] => up() ? "connected" : "connecting"
    const ref = yield* SubscriptionRef.make<Health>({
      status: status(),
      lastError: problem(),
      since: yield* Clock.currentTimeMillis
    })
    const refresh = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      SubscriptionRef.updateSome(ref, (previous) => {
        const next = status()
        const lastError = problem()
        if (next === previous.status && lastError === previous.lastError) return Option.none()
        return Option.some({ status: next, lastError, since: next === previous.status ? previous.since : now })
      }))
    yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(HEALTH_POLL)))
    const awaitReady = ref.changes.pipe(
      Stream.filter((health) => health.status === "connected"),
      Stream.runHead,
      Effect.asVoid
    )
    const awaitReadyWithin = (timeout: Duration.DurationInput) =>
      awaitReady.pipe(
        Effect.timeout(timeout),
        Effect.catchTag("TimeoutException", () =>
          Effect.flatMap(SubscriptionRef.get(ref), ({ lastError }) =>
            Effect.fail(
              new Errors.ConnectionClosed({
                reason: `no connection to ${describe} within ${Duration.format(timeout)}` +
                  (lastError === undefined ? "" : `; last error: ${lastError}`)
              })
            )))
      )
    return {
      health: SubscriptionRef.get(ref),
      healthChanges: ref.changes,
      awaitReady,
      awaitReadyWithin
    }
  })

/**
 * The ZeroMQ layer instance behind the `ChannelLayer` service.
 *
 * @since 0.1.0
 * @category tags
 */
export class ZeroMQTransport extends Context.Tag("@channel-layer/zeromq/ZeroMQTransport")<
  ZeroMQTransport,
  TransportInfo
>() {}

/**
 * A layer instance: the service and what it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Instance {
  readonly service: ChannelLayer.ChannelLayerService
  readonly transport: TransportInfo
}

/** The parts both modes share: the client id, the SUB socket and its bookkeeping. */
const receiving = (
  settings: Settings.LayerSettings,
  { labels, queues, warnings }: Backend.Context,
  options: { readonly context: zmq.Context | undefined; readonly minimumPublishers: number; readonly describe: string }
) =>
  Effect.gen(function*() {
    const clientId = ChannelName.randomLetters(Topics.CLIENT_ID_LENGTH)
    if (settings.curve.authorizedKeys !== undefined && options.context !== undefined) {
      yield* Zap.start(options.context, settings.curve.authorizedKeys, warnings)
    }
    const sub = yield* Sockets.acquire(() =>
      new zmq.Subscriber({
        ...Sockets.base(settings, options.context),
        ...Sockets.curveClient(settings),
        receiveHighWaterMark: settings.receiveHighWaterMark
      })
    )
    Sockets.unlimitedSubscriptions(sub)
    const monitor: { connections?: Monitor.Connections } = {}
    const confirmations = Confirmations.make({
      socket: sub,
      own: Topics.directSubscription(clientId),
      minimumPublishers: options.minimumPublishers,
      timeout: settings.confirmTimeout,
      describe: () => options.describe,
      lastProblem: () => monitor.connections?.lastProblem()
    })
    monitor.connections = yield* Monitor.watch(sub, {
      role: "the SUB socket",
      curve: settings.curve.client !== undefined,
      side: "client",
      warnings,
      labels,
      onHandshake: confirmations.onHandshake,
      onDisconnect: confirmations.onDisconnect
    })
    confirmations.subscribe(Topics.directSubscription(clientId))
    const reading = yield* Subscriber.start({
      socket: sub,
      clientId,
      queues,
      confirmations,
      expiry: settings.expiry,
      capacityOf: settings.capacityOf,
      fullChannelTimeout: settings.fullChannelTimeout,
      warnings,
      labels
    })
    return {
      clientId,
      warnings,
      queues,
      labels,
      sub,
      confirmations,
      connections: monitor.connections,
      onReceive: reading.onReceive
    }
  })

/**
 * Makes an embedded layer instance in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEmbedded = (
  options: EmbeddedOptions
): Effect.Effect<Instance, Errors.InvalidOptions, Scope.Scope> =>
  Effect.flatMap(Settings.embedded(options), (settings) =>
    make(settings, (core) =>
      Effect.gen(function*() {
        const context = Sockets.context(settings.curve.authorizedKeys !== undefined)
        const receiver = yield* receiving(settings, core, {
          context,
          minimumPublishers: 0,
          describe: `the publishers at ${settings.subscribeAddresses.join(", ")}`
        })
        const { clientId, labels, warnings } = receiver
        const pub = yield* Sockets.acquirePublisher(settings, context)
        yield* Monitor.watch(pub, {
          role: "the PUB socket",
          curve: settings.curve.server !== undefined,
          side: "server",
          warnings,
          labels
        })
        const endpoint = yield* Sockets.bind(pub, settings.publishAddress, "publishAddress")
        yield* Exposure.warnIfExposed({
          role: "the PUB socket",
          option: "publishAddress",
          address: settings.publishAddress,
          endpoint,
          risk: "subscribe to and read every message this process publishes",
          curve: settings.curve.server !== undefined,
          curveHint: "give the layer curve.publicKey and curve.secretKey (ZeroMQ.curveKeyPair), its peers the public " +
            "key as curve.serverPublicKey, and list their keys in curve.authorizedKeys"
        })
        const outbox = yield* Outbox.make(pub, {
          capacity: settings.sendHighWaterMark,
          role: "the PUB socket",
          warnings,
          delay: settings.settle
        })
        const settledAt = receiver.queues.now() + settings.settle
        const publisher = yield* Publisher.make({
          id: clientId,
          socket: pub,
          outbox,
          role: "the PUB socket",
          holdTimeout: settings.confirmTimeout,
          holdCapacity: settings.sendHighWaterMark,
          warnings,
          labels
        })
        for (const [i, address] of settings.subscribeAddresses.entries()) {
          yield* Sockets.connect(receiver.sub, address, `subscribeAddresses[${i}]`)
        }
        // The peers that are up are connected before the layer is ready, so that the first
        // newChannel is confirmed by each of them (a peer that starts later holds direct messages for
        // this process until its subscription arrives).
        yield* receiver.connections.settled(settings.subscribeAddresses, settings.confirmTimeout)
        const backend = yield* ZeroMQBackend.make({
          ...receiver,
          settings,
          direct: publisher.direct,
          // While settling, subscribers may still be on their way: publish group messages anyway.
          groupLeaves: (subscription) => receiver.queues.now() < settledAt || publisher.subscribed(subscription),
          group: outbox.offer,
          whenRoom: outbox.whenRoom,
          reachable: () => true,
          unreachable: () => "the PUB socket is closed",
          drain: outbox.drain
        }, "the PUB socket")
        yield* Effect.logDebug(`zeromq embedded layer ${clientId}: publishing on ${endpoint}`)
        const health = yield* watchHealth(
          () => true,
          receiver.connections.lastProblem,
          `the publishers at ${settings.subscribeAddresses.join(", ")}`
        )
        return { ...backend, info: { mode: "embedded" as const, clientId, publishEndpoint: endpoint, ...health } }
      }))).pipe(Effect.annotateLogs({ mode: "embedded" }))

/**
 * Makes a dedicated layer instance (a client of the proxy) in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDedicated = (
  options: DedicatedOptions
): Effect.Effect<Instance, Errors.InvalidOptions, Scope.Scope> =>
  Effect.flatMap(Settings.dedicated(options), (settings) =>
    make(settings, (core) =>
      Effect.gen(function*() {
        const receiver = yield* receiving(settings, core, {
          context: undefined,
          minimumPublishers: 1,
          describe: `the proxy at ${settings.subscribeAddress}`
        })
        const { clientId, labels, warnings } = receiver
        const push = yield* Sockets.acquire(() =>
          new zmq.Push({
            ...Sockets.base(settings, undefined),
            ...Sockets.curveClient(settings),
            sendHighWaterMark: settings.sendHighWaterMark
          })
        )
        const pushConnections = yield* Monitor.watch(push, {
          role: "the PUSH socket",
          curve: settings.curve.client !== undefined,
          side: "client",
          warnings,
          labels
        })
        const outbox = yield* Outbox.make(push, {
          capacity: settings.sendHighWaterMark,
          role: "the PUSH socket",
          warnings
        })
        yield* Sockets.connect(push, settings.pushAddress, "pushAddress")
        yield* Sockets.connect(receiver.sub, settings.subscribeAddress, "subscribeAddress")
        const backend = yield* ZeroMQBackend.make({
          ...receiver,
          settings,
          direct: (_clientId, frames) => outbox.offer(frames) ? "queued" : "full",
          groupLeaves: () => true,
          group: outbox.offer,
          whenRoom: outbox.whenRoom,
          reachable: () => pushConnections.connected().size > 0,
          unreachable: () =>
            `the proxy at ${settings.pushAddress} is unreachable and ${outbox.size()} messages wait for it` +
            (pushConnections.lastProblem() === undefined ? "" : ` (${pushConnections.lastProblem()})`),
          drain: outbox.drain
        }, "the PUSH socket")
        yield* Effect.logDebug(
          `zeromq dedicated layer ${clientId}: pushing to ${settings.pushAddress}, subscribed to ${settings.subscribeAddress}`
        )
        const health = yield* watchHealth(
          () => pushConnections.connected().size > 0 && receiver.connections.connected().size > 0,
          () => pushConnections.lastProblem() ?? receiver.connections.lastProblem(),
          `the proxy at ${settings.pushAddress} and ${settings.subscribeAddress}`
        )
        return { ...backend, info: { mode: "dedicated" as const, clientId, publishEndpoint: undefined, ...health } }
      }))).pipe(Effect.annotateLogs({ mode: "dedicated" }))

/** Builds the service on the backend `backend` makes, with the settings both modes share. */
const make = (
  settings: Settings.LayerSettings,
  backend: (
    context: Backend.Context
  ) => Effect.Effect<Backend.Backend & { readonly info: TransportInfo }, Errors.InvalidOptions, Scope.Scope>
): Effect.Effect<Instance, Errors.InvalidOptions, Scope.Scope> =>
  Effect.map(
    ChannelLayer.make({
      transport: "zeromq",
      expiry: settings.expiry,
      capacityOf: settings.capacityOf,
      maxMessageSize: settings.maxMessageSize,
      deadlineInEnvelope: true,
      backend
    }),
    (made) => ({ service: made.service, transport: made.backend.info })
  )

const toLayer = <E>(make: Effect.Effect<Instance, E, Scope.Scope>) =>
  Layer.scopedContext(
    Effect.map(make, ({ service, transport }) =>
      Context.make(ChannelLayer.ChannelLayer, service).pipe(Context.add(ZeroMQTransport, transport)))
  )

/**
 * The embedded ZeroMQ channel layer: this process binds a PUB socket at `publishAddress` and
 * subscribes to its peers at `subscribeAddresses`. Fails with `InvalidOptions` for an option out of
 * range or an address it cannot bind.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbedded = (
  options: EmbeddedOptions
): Layer.Layer<ChannelLayer.ChannelLayer | ZeroMQTransport, Errors.InvalidOptions> => toLayer(makeEmbedded(options))

/**
 * The dedicated ZeroMQ channel layer: this process pushes to the proxy at `pushAddress` and
 * subscribes to its PUB socket at `subscribeAddress`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDedicated = (
  options: DedicatedOptions
): Layer.Layer<ChannelLayer.ChannelLayer | ZeroMQTransport, Errors.InvalidOptions> => toLayer(makeDedicated(options))

/**
 * `layerEmbedded` with its options read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbeddedConfig = (
  config: Config.Config.Wrap<EmbeddedOptions>
): Layer.Layer<ChannelLayer.ChannelLayer | ZeroMQTransport, Errors.InvalidOptions | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layerEmbedded))

/**
 * `layerDedicated` with its options read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDedicatedConfig = (
  config: Config.Config.Wrap<DedicatedOptions>
): Layer.Layer<ChannelLayer.ChannelLayer | ZeroMQTransport, Errors.InvalidOptions | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layerDedicated))

/**
 * A fresh CURVE key pair (40-character Z85 strings).
 *
 * @since 0.1.0
 * @category curve
 */
export const curveKeyPair: Effect.Effect<{ readonly publicKey: string; readonly secretKey: string }> = Effect.sync(
  () => zmq.curveKeyPair()
)
