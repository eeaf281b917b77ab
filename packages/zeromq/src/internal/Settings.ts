/**
 * Validation of the options of the layers and the proxy into resolved settings (milliseconds,
 * resolved CURVE roles). Every problem is an `InvalidOptions` naming the option and what is
 * allowed.
 *
 * @since 0.1.0
 */
import { ChannelCapacity, Errors, Options } from "@channel-layer/core"
import { Duration, Effect } from "effect"
import * as zmq from "zeromq"
import type { CommonOptions, CurveOptions, DedicatedOptions, EmbeddedOptions } from "../ZeroMQ.js"
import type { ProxyOptions } from "../ZeroMQProxy.js"
import * as Z85 from "./Z85.js"

/**
 * CURVE roles of a set of sockets: bound sockets are servers, connecting sockets are clients.
 *
 * @since 0.1.0
 * @category models
 */
export interface CurveSettings {
  /** Bound sockets are CURVE servers with this secret key. */
  readonly server: { readonly secretKey: string } | undefined
  /** Connecting sockets are CURVE clients of a server with `serverKey`. */
  readonly client: { readonly publicKey: string; readonly secretKey: string; readonly serverKey: string } | undefined
  /** Client public keys the bound sockets accept (checked by a ZAP handler); absent: any client. */
  readonly authorizedKeys: ReadonlySet<string> | undefined
}

/**
 * What every socket of a layer or proxy is configured with.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketSettings {
  readonly sendHighWaterMark: number
  readonly receiveHighWaterMark: number
  readonly linger: number
  readonly reconnectInterval: number
  readonly heartbeatInterval: number
  readonly heartbeatTimeout: number
  readonly curve: CurveSettings
}

/**
 * The resolved settings of a layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerSettings extends SocketSettings {
  readonly capacity: number
  readonly capacityOf: (channel: string) => number
  readonly expiry: number
  readonly confirmTimeout: number
  readonly sendTimeout: number
  readonly fullChannelTimeout: number
  readonly maxMessageSize: number
}

/**
 * The resolved settings of the embedded layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedSettings extends LayerSettings {
  readonly publishAddress: string
  readonly subscribeAddresses: ReadonlyArray<string>
  readonly settle: number
}

/**
 * The resolved settings of the dedicated layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface DedicatedSettings extends LayerSettings {
  readonly pushAddress: string
  readonly subscribeAddress: string
}

/**
 * The resolved settings of the proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxySettings extends SocketSettings {
  readonly pullAddress: string
  readonly publishAddress: string
  readonly holdTimeout: number
  readonly settle: number
  readonly statsInterval: number
}

const invalid = (option: string, reason: string) => Effect.fail(new Errors.InvalidOptions({ option, reason }))

const addressPattern = /^(tcp|ipc|inproc|tipc|vmci|pgm|epgm|ws|wss):\/\/\S+$/

/**
 * A ZeroMQ endpoint option (`tcp://host:port`, `ipc://path`, ...).
 *
 * @since 0.1.0
 * @category validation
 */
export const address = (option: string, value: unknown): Effect.Effect<string, Errors.InvalidOptions> =>
  typeof value === "string" && addressPattern.test(value)
    ? Effect.succeed(value)
    : invalid(option, `must be a ZeroMQ endpoint such as "tcp://127.0.0.1:5555", got ${JSON.stringify(value)}`)

const addressList = (option: string, value: unknown): Effect.Effect<ReadonlyArray<string>, Errors.InvalidOptions> => {
  if (value === undefined) return Effect.succeed([])
  const list = typeof value === "string" ? [value] : value
  if (!Array.isArray(list)) return invalid(option, "must be an endpoint or a list of endpoints")
  return Effect.map(
    Effect.forEach(list, (item, i) => address(`${option}[${i}]`, item)),
    (addresses) => [...new Set(addresses)]
  )
}

/**
 * A duration option that may be zero.
 *
 * @since 0.1.0
 * @category validation
 */
export const nonNegativeDuration = (
  option: string,
  value: Duration.DurationInput
): Effect.Effect<number, Errors.InvalidOptions> =>
  Effect.suspend(() => {
    // Duration clamps a negative number of milliseconds to zero: refuse it before decoding.
    if (typeof value === "number" && !(value >= 0)) {
      return invalid(option, `must be a finite duration of zero or more, got ${String(value)}`)
    }
    const decoded = Duration.decodeUnknown(value)
    if (decoded._tag === "None") return invalid(option, "must be a Duration or a number of milliseconds")
    const millis = Duration.toMillis(decoded.value)
    return Number.isFinite(millis) && millis >= 0
      ? Effect.succeed(millis)
      : invalid(option, `must be a finite duration of zero or more, got ${String(value)}`)
  })

const curveKey = (option: string, value: unknown): Effect.Effect<string | undefined, Errors.InvalidOptions> =>
  value === undefined || Z85.isCurveKey(value)
    ? Effect.succeed(value as string | undefined)
    : invalid(option, "must be a CURVE key: 40 Z85 characters, as made by zeromq's curveKeyPair()")

const curveAvailable = Effect.suspend(() =>
  zmq.capability.curve === true ? Effect.void : invalid("curve", "this build of libzmq has no CURVE support")
)

/**
 * The CURVE roles of a layer's sockets. `connecting` says whether the layer has connecting
 * sockets only (dedicated) or also a bound one (embedded).
 *
 * @since 0.1.0
 * @category validation
 */
export const curve = (
  options: CurveOptions | undefined,
  mode: "embedded" | "dedicated"
): Effect.Effect<CurveSettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    const none: CurveSettings = { server: undefined, client: undefined, authorizedKeys: undefined }
    if (options === undefined) return none
    if (typeof options !== "object" || options === null) return yield* invalid("curve", "must be an object")
    yield* curveAvailable
    const publicKey = yield* curveKey("curve.publicKey", options.publicKey)
    const secretKey = yield* curveKey("curve.secretKey", options.secretKey)
    const serverKey = yield* curveKey("curve.serverPublicKey", options.serverPublicKey)
    if ((publicKey === undefined) !== (secretKey === undefined)) {
      return yield* invalid(
        "curve",
        "give both curve.publicKey and curve.secretKey (this process's key pair), or neither"
      )
    }
    if (mode === "dedicated" && serverKey === undefined) {
      return yield* invalid("curve.serverPublicKey", "the dedicated layer needs the proxy's public key for CURVE")
    }
    if (mode === "dedicated" && options.authorizedKeys !== undefined) {
      return yield* invalid(
        "curve.authorizedKeys",
        "the dedicated layer binds no socket; give the authorized keys to the proxy instead"
      )
    }
    const authorizedKeys = yield* authorized("curve.authorizedKeys", options.authorizedKeys)
    if (authorizedKeys !== undefined && secretKey === undefined) {
      return yield* invalid("curve.authorizedKeys", "needs curve.secretKey: only a CURVE server authenticates clients")
    }
    const keyPair = publicKey !== undefined && secretKey !== undefined
      ? { publicKey, secretKey }
      : zmq.curveKeyPair()
    return {
      server: mode === "embedded" && secretKey !== undefined ? { secretKey } : undefined,
      client: serverKey === undefined ? undefined : { ...keyPair, serverKey },
      authorizedKeys
    }
  })

const authorized = (
  option: string,
  value: ReadonlyArray<string> | undefined
): Effect.Effect<ReadonlySet<string> | undefined, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (value === undefined) return undefined
    if (!Array.isArray(value)) return yield* invalid(option, "must be a list of CURVE public keys")
    for (const [i, key] of value.entries()) yield* curveKey(`${option}[${i}]`, key)
    return new Set(value)
  })

const socketSettings = (
  options: CommonOptions,
  curveSettings: CurveSettings,
  defaultSendHighWaterMark: number
): Effect.Effect<SocketSettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    const heartbeatInterval = yield* Options.positiveDuration(
      "heartbeatInterval",
      options.heartbeatInterval ?? Duration.seconds(1)
    )
    return {
      sendHighWaterMark: yield* Options.positiveInteger(
        "sendHighWaterMark",
        options.sendHighWaterMark ?? defaultSendHighWaterMark
      ),
      receiveHighWaterMark: yield* Options.positiveInteger(
        "receiveHighWaterMark",
        options.receiveHighWaterMark ?? 1000
      ),
      linger: yield* nonNegativeDuration("linger", options.linger ?? Duration.seconds(1)),
      reconnectInterval: yield* Options.positiveDuration(
        "reconnectInterval",
        options.reconnectInterval ?? Duration.millis(100)
      ),
      heartbeatInterval,
      heartbeatTimeout: yield* Options.positiveDuration(
        "heartbeatTimeout",
        options.heartbeatTimeout ?? Duration.seconds(5)
      ),
      curve: curveSettings
    }
  })

const layerSettings = (
  options: CommonOptions,
  mode: "embedded" | "dedicated"
): Effect.Effect<LayerSettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "must be an object")
    const capacity = yield* Options.positiveInteger("capacity", options.capacity ?? 100)
    for (const [pattern, value] of ChannelCapacity.capacities(options.channelCapacity)) {
      yield* Options.positiveInteger(`channelCapacity[${pattern}]`, value)
    }
    const sockets = yield* socketSettings(options, yield* curve(options.curve, mode), 1000)
    return {
      ...sockets,
      capacity,
      capacityOf: ChannelCapacity.resolver(capacity, options.channelCapacity),
      expiry: yield* Options.positiveDuration("expiry", options.expiry ?? Duration.seconds(60)),
      confirmTimeout: yield* Options.positiveDuration("confirmTimeout", options.confirmTimeout ?? Duration.seconds(5)),
      sendTimeout: yield* nonNegativeDuration("sendTimeout", options.sendTimeout ?? Duration.seconds(1)),
      fullChannelTimeout: yield* nonNegativeDuration(
        "fullChannelTimeout",
        options.fullChannelTimeout ?? Duration.seconds(1)
      ),
      maxMessageSize: yield* Options.positiveInteger("maxMessageSize", options.maxMessageSize ?? 8 * 1024 * 1024)
    }
  })

/**
 * Validates the options of `ZeroMQ.layerEmbedded`.
 *
 * @since 0.1.0
 * @category validation
 */
export const embedded = (options: EmbeddedOptions): Effect.Effect<EmbeddedSettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    const settings = yield* layerSettings(options, "embedded")
    return {
      ...settings,
      publishAddress: yield* address("publishAddress", options.publishAddress),
      subscribeAddresses: yield* addressList("subscribeAddresses", options.subscribeAddresses),
      settle: yield* nonNegativeDuration("settle", options.settle ?? Duration.millis(300))
    }
  })

/**
 * Validates the options of `ZeroMQ.layerDedicated`.
 *
 * @since 0.1.0
 * @category validation
 */
export const dedicated = (options: DedicatedOptions): Effect.Effect<DedicatedSettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    const settings = yield* layerSettings(options, "dedicated")
    return {
      ...settings,
      pushAddress: yield* address("pushAddress", options.pushAddress),
      subscribeAddress: yield* address("subscribeAddress", options.subscribeAddress)
    }
  })

/**
 * Validates the options of the proxy.
 *
 * @since 0.1.0
 * @category validation
 */
export const proxy = (options: ProxyOptions): Effect.Effect<ProxySettings, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "must be an object")
    let curveSettings: CurveSettings = { server: undefined, client: undefined, authorizedKeys: undefined }
    if (options.curve !== undefined) {
      yield* curveAvailable
      const secretKey = yield* curveKey("curve.secretKey", options.curve.secretKey)
      if (secretKey === undefined) return yield* invalid("curve.secretKey", "the proxy needs its CURVE secret key")
      curveSettings = {
        server: { secretKey },
        client: undefined,
        authorizedKeys: yield* authorized("curve.authorizedKeys", options.curve.authorizedKeys)
      }
    }
    const sockets = yield* socketSettings(options, curveSettings, 10_000)
    return {
      ...sockets,
      pullAddress: yield* address("pullAddress", options.pullAddress),
      publishAddress: yield* address("publishAddress", options.publishAddress),
      holdTimeout: yield* Options.positiveDuration("holdTimeout", options.holdTimeout ?? Duration.seconds(5)),
      settle: yield* nonNegativeDuration("settle", options.settle ?? Duration.millis(500)),
      statsInterval: yield* Options.positiveDuration("statsInterval", options.statsInterval ?? Duration.seconds(60))
    }
  })
