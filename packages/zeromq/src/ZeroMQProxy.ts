/**
 * The proxy of the dedicated ZeroMQ transport, as an Effect program: it binds a PULL socket that
 * the layers PUSH to and a PUB socket (an XPUB) that their SUB sockets connect to, and forwards.
 * The `channel-layer-zmq-proxy` bin runs it.
 *
 * Besides forwarding, it is the publisher of the slow-joiner guard (see `ZeroMQ`): it
 * acknowledges every subscription on its topic, holds a direct message for a process that has
 * not subscribed yet (up to `holdTimeout`), and after it starts it waits `settle` before
 * forwarding, so that subscribers reconnecting after a restart have resubscribed. When its PUB
 * socket is at the high-water mark it stops reading the PULL socket, which pushes the
 * back-pressure to the senders (their `send` fails with `ChannelFull`). It logs what it drops and
 * counts what it forwards.
 *
 * @since 0.1.0
 */
import { type Errors, Metrics, Warnings } from "@channel-layer/core"
import type { ConfigError, Duration, Scope } from "effect"
import { Config, Context, Effect, Layer, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import * as zmq from "zeromq"
import * as Exposure from "./internal/Exposure.js"
import * as Monitor from "./internal/Monitor.js"
import * as Outbox from "./internal/Outbox.js"
import * as Publisher from "./internal/Publisher.js"
import * as Reader from "./internal/Reader.js"
import * as Settings from "./internal/Settings.js"
import * as Sockets from "./internal/Sockets.js"
import * as Topics from "./internal/Topics.js"
import * as Zap from "./internal/Zap.js"
import * as ZeroMQMetrics from "./ZeroMQMetrics.js"

/**
 * Options of the proxy, with their defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyOptions {
  /**
   * Where to bind the PULL socket the layers push to, e.g. `tcp://127.0.0.1:5557`. An address
   * beyond loopback without `curve` is logged as a warning: anyone who can reach it sends messages.
   */
  readonly pullAddress: string
  /**
   * Where to bind the PUB socket the layers subscribe to, e.g. `tcp://127.0.0.1:5556`. An address
   * beyond loopback without `curve` is logged as a warning: anyone who can reach it reads messages.
   */
  readonly publishAddress: string
  /** The PUB socket's high-water mark per subscriber, and how many messages more may wait (default 10,000). */
  readonly sendHighWaterMark?: number
  /** The PULL socket's receive high-water mark (default 1000). */
  readonly receiveHighWaterMark?: number
  /** How long a direct message waits for its process to subscribe (default 5 seconds). */
  readonly holdTimeout?: Duration.DurationInput
  /** How long after binding the proxy waits before forwarding (default 500 ms). */
  readonly settle?: Duration.DurationInput
  /** How long closing waits for queued messages to go out (default 1 second). */
  readonly linger?: Duration.DurationInput
  /** ZMTP heartbeat interval (default 1 second). */
  readonly heartbeatInterval?: Duration.DurationInput
  /** How long without traffic after a heartbeat before a connection is dropped (default 5 seconds). */
  readonly heartbeatTimeout?: Duration.DurationInput
  /** How often the forwarding counts are logged (default 60 seconds; only when something happened). */
  readonly statsInterval?: Duration.DurationInput
  /**
   * CURVE: both sockets are CURVE servers with `secretKey` (clients set the matching public key as
   * their `serverPublicKey`); with `authorizedKeys`, only those client public keys get in.
   */
  readonly curve?: { readonly secretKey: string; readonly authorizedKeys?: ReadonlyArray<string> }
}

/**
 * Counts of a running proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyStats {
  readonly forwarded: number
  readonly held: number
  readonly dropped: number
}

/**
 * A running proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Proxy {
  readonly id: string
  /** The endpoint the PULL socket is bound to (the port resolved). */
  readonly pullEndpoint: string
  /** The endpoint the PUB socket is bound to (the port resolved). */
  readonly publishEndpoint: string
  readonly stats: Effect.Effect<ProxyStats>
}

/**
 * The running proxy.
 *
 * @since 0.1.0
 * @category tags
 */
export class ZeroMQProxy extends Context.Tag("@channel-layer/zeromq/ZeroMQProxy")<ZeroMQProxy, Proxy>() {}

const labels = Metrics.transportLabel("zeromq-proxy")

const malformed: Warnings.Kind = {
  key: "proxy-malformed",
  render: (total, top) => `the proxy dropped ${total} pushed frames that are not channel-layer messages: ${top}`
}

const holdFull: Warnings.Kind = {
  key: "proxy-hold-full",
  render: (total, top) =>
    `the proxy dropped ${total} direct messages: too many already wait for processes that have not subscribed ` +
    `(sendHighWaterMark): ${top}`
}

/**
 * Starts the proxy in the current scope: binds both sockets, forwards until the scope closes,
 * then hands on what is queued (up to `linger`) and closes the sockets.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ProxyOptions): Effect.Effect<Proxy, Errors.InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* Settings.proxy(options)
    const id = `proxy-${randomBytes(6).toString("hex")}`
    const warnings = yield* Warnings.make({})
    const context = Sockets.context(settings.curve.authorizedKeys !== undefined)
    if (settings.curve.authorizedKeys !== undefined && context !== undefined) {
      yield* Zap.start(context, settings.curve.authorizedKeys, warnings)
    }
    const curve = settings.curve.server !== undefined
    const pub = yield* Sockets.acquirePublisher(settings, context)
    const pull = yield* Sockets.acquire(() =>
      new zmq.Pull({
        ...Sockets.base(settings, context),
        ...Sockets.curveServer(settings),
        receiveHighWaterMark: settings.receiveHighWaterMark
      })
    )
    yield* Monitor.watch(pub, { role: "the proxy's PUB socket", curve, side: "server", warnings, labels })
    yield* Monitor.watch(pull, { role: "the proxy's PULL socket", curve, side: "server", warnings, labels })
    const publishEndpoint = yield* Sockets.bind(pub, settings.publishAddress, "publishAddress")
    const pullEndpoint = yield* Sockets.bind(pull, settings.pullAddress, "pullAddress")
    const curveHint = "start the proxy with --curve-secret-key-file (ZeroMQProxy's curve.secretKey) and " +
      "--curve-authorized-keys-file (curve.authorizedKeys), and give the layers its public key as " +
      "curve.serverPublicKey"
    yield* Exposure.warnIfExposed({
      role: "the proxy's PULL socket",
      option: "pullAddress",
      address: settings.pullAddress,
      endpoint: pullEndpoint,
      risk: "send messages to any channel or group",
      curve,
      curveHint
    })
    yield* Exposure.warnIfExposed({
      role: "the proxy's PUB socket",
      option: "publishAddress",
      address: settings.publishAddress,
      endpoint: publishEndpoint,
      risk: "subscribe to and read every message",
      curve,
      curveHint
    })
    const outbox = yield* Outbox.make(pub, {
      capacity: settings.sendHighWaterMark,
      role: "the proxy's PUB socket",
      warnings
    })
    const publisher = yield* Publisher.make({
      id,
      socket: pub,
      outbox,
      role: "the proxy's PUB socket",
      holdTimeout: settings.holdTimeout,
      holdCapacity: settings.sendHighWaterMark,
      warnings,
      labels
    })

    let forwarded = 0
    let dropped = 0
    const drop = (kind: Warnings.Kind, reason: string) => {
      dropped++
      warnings.report(kind, reason)
      ZeroMQMetrics.messagesMalformed.unsafeUpdate(1, labels)
    }

    /** Routes one pushed message; `false` when the PUB socket's queue is full (try again later). */
    const route = (frames: Array<Buffer>): boolean => {
      const topic = frames[0]
      if (frames.length < 2) {
        drop(malformed, "a topic without a body")
        return true
      }
      if (topic[0] === Topics.GROUP_BYTE) return outbox.offer(frames)
      const clientId = topic[0] === Topics.DIRECT_BYTE ? Topics.nameOf(topic) : undefined
      if (clientId === undefined) {
        drop(malformed, "an unknown topic")
        return true
      }
      const admission = publisher.direct(clientId, frames)
      if (admission === "full") return false
      if (admission === "hold-full") drop(holdFull, clientId)
      return true
    }

    const counted = (frames: Array<Buffer>) => {
      forwarded += frames.length - 1
      ZeroMQMetrics.proxyForwarded.unsafeUpdate(frames.length - 1, labels)
    }

    // A message the PUB socket's queue cannot take waits for room, and the PULL socket is not read
    // meanwhile: the back-pressure reaches the senders.
    const forward = (frames: Array<Buffer>): void | Promise<void> => {
      if (route(frames)) return counted(frames)
      return new Promise<void>((resolve) =>
        outbox.unsafeWhenRoom(() => route(frames), () => {
          counted(frames)
          resolve()
        })
      )
    }

    yield* Effect.sleep(settings.settle).pipe(
      Effect.zipRight(Effect.logDebug("the proxy forwards now")),
      Effect.zipRight(Reader.start(pull, "the proxy's PULL socket", forward)),
      Effect.forkScoped
    )

    let reported = 0
    yield* Effect.suspend(() => {
      if (forwarded === reported) return Effect.void
      const line = `forwarded ${forwarded - reported} messages (${forwarded} in all); ${publisher.held()} held ` +
        `for processes that have not subscribed yet; ${outbox.size()} waiting for the PUB socket`
      reported = forwarded
      return Effect.logInfo(line)
    }).pipe(
      Effect.repeat(Schedule.spaced(settings.statsInterval)),
      Effect.interruptible,
      Effect.forkScoped
    )

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.logInfo(`stopping: ${forwarded} messages forwarded`),
        outbox.drain(settings.linger)
      )
    )
    yield* Effect.logInfo(`proxy ${id} listening: PULL on ${pullEndpoint}, PUB on ${publishEndpoint}`)
    return {
      id,
      pullEndpoint,
      publishEndpoint,
      stats: Effect.sync(() => ({ forwarded, held: publisher.held(), dropped }))
    }
  }).pipe(Effect.annotateLogs({ transport: "zeromq-proxy" }))

/**
 * Runs the proxy until interrupted (SIGTERM in the bin), then closes it cleanly.
 *
 * @since 0.1.0
 * @category programs
 */
export const run = (options: ProxyOptions): Effect.Effect<never, Errors.InvalidOptions> =>
  Effect.scoped(Effect.zipRight(make(options), Effect.never))

/**
 * The proxy as a Layer (for tests and for a process that hosts the proxy next to other things).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ProxyOptions): Layer.Layer<ZeroMQProxy, Errors.InvalidOptions> =>
  Layer.scoped(ZeroMQProxy, make(options))

/**
 * `layer` with its options read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<ProxyOptions>
): Layer.Layer<ZeroMQProxy, Errors.InvalidOptions | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
