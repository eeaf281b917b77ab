/**
 * Making, binding, connecting and closing the zeromq.js sockets of the layers and the proxy, with
 * the options every socket shares (linger, reconnect, heartbeats, CURVE).
 *
 * @since 0.1.0
 */
import { Errors } from "@channel-layer/core"
import type { Scope } from "effect"
import { Duration, Effect, Schedule } from "effect"
import * as zmq from "zeromq"
import type { SocketSettings } from "./Settings.js"

/**
 * ZMQ_SNDHWM, not exposed by zeromq.js on SUB sockets.
 *
 * @since 0.1.0
 * @category constants
 */
export const ZMQ_SNDHWM = 23

/**
 * The options every socket gets: linger, reconnect interval and heartbeats.
 *
 * @since 0.1.0
 * @category options
 */
export const base = (settings: SocketSettings, context: zmq.Context | undefined) => ({
  ...(context === undefined ? {} : { context }),
  linger: settings.linger,
  reconnectInterval: settings.reconnectInterval,
  heartbeatInterval: settings.heartbeatInterval,
  heartbeatTimeout: settings.heartbeatTimeout
})

/**
 * CURVE options of a bound socket (a CURVE server), if the settings have a server key.
 *
 * @since 0.1.0
 * @category options
 */
export const curveServer = (settings: SocketSettings) =>
  settings.curve.server === undefined
    ? {}
    : {
      curveServer: true,
      curveSecretKey: settings.curve.server.secretKey,
      ...(settings.curve.authorizedKeys === undefined ? {} : { zapDomain: "channel-layer" })
    }

/**
 * CURVE options of a connecting socket (a CURVE client), if the settings have a server key.
 *
 * @since 0.1.0
 * @category options
 */
export const curveClient = (settings: SocketSettings) =>
  settings.curve.client === undefined
    ? {}
    : {
      curvePublicKey: settings.curve.client.publicKey,
      curveSecretKey: settings.curve.client.secretKey,
      curveServerKey: settings.curve.client.serverKey
    }

/**
 * A socket that is closed when the scope closes.
 *
 * @since 0.1.0
 * @category resources
 */
export const acquire = <S extends zmq.Socket>(
  make: () => S
): Effect.Effect<S, Errors.InvalidOptions, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: make,
      catch: (error) =>
        new Errors.InvalidOptions({ option: "socket", reason: `cannot create a socket: ${message(error)}` })
    }),
    (socket) => Effect.sync(() => socket.close())
  )

/**
 * The XPUB socket of a publisher (an embedded layer, or the proxy), closed with the scope: a CURVE
 * server when the settings have a key, `noDrop` (a full queue refuses instead of dropping: the
 * back-pressure), and every subscription and unsubscription passed up to be acknowledged.
 *
 * @since 0.1.0
 * @category resources
 */
export const acquirePublisher = (
  settings: SocketSettings,
  context: zmq.Context | undefined
): Effect.Effect<zmq.XPublisher, Errors.InvalidOptions, Scope.Scope> =>
  acquire(() =>
    new zmq.XPublisher({
      ...base(settings, context),
      ...curveServer(settings),
      sendHighWaterMark: settings.sendHighWaterMark,
      receiveHighWaterMark: 0,
      noDrop: true,
      verbosity: "allSubs"
    })
  )

/**
 * Lifts the send high-water mark of a SUB socket: its subscriptions travel as messages and libzmq
 * silently drops those beyond the mark (10,000 groups would otherwise lose most of theirs).
 *
 * @since 0.1.0
 * @category options
 */
export const unlimitedSubscriptions = (socket: zmq.Subscriber): void => {
  // zeromq.js defines sendHighWaterMark on writable sockets only; the generic setter is protected.
  ;(socket as unknown as { setInt32Option(option: number, value: number): void }).setInt32Option(ZMQ_SNDHWM, 0)
}

/**
 * The text of an unknown error.
 *
 * @since 0.1.0
 * @category errors
 */
export const message = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * Binds a socket and returns the endpoint it is bound to (with the port resolved for `:*`/`:0`).
 * An address in use is tried again for up to two seconds: a socket that held it in this process
 * may still be closing in the background (libzmq closes asynchronously). So is a bind that fails
 * with EAGAIN, which libzmq reports now and then under load.
 *
 * @since 0.1.0
 * @category resources
 */
export const bind = (
  socket: zmq.Socket,
  address: string,
  option: string
): Effect.Effect<string, Errors.InvalidOptions> =>
  Effect.suspend(() => {
    let inUse: unknown = undefined
    return Effect.tryPromise({
      try: () => socket.bind(address),
      catch: (error) => {
        if ((error as { code?: string }).code === "EADDRINUSE") inUse = error
        return error
      }
    }).pipe(
      Effect.retry({
        schedule: Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(Duration.seconds(2))),
        while: (error) => ["EADDRINUSE", "EAGAIN"].includes((error as { code?: string }).code ?? "")
      }),
      Effect.mapError((error) =>
        new Errors.InvalidOptions({ option, reason: `cannot bind ${address}: ${message(inUse ?? error)}` })
      ),
      Effect.map(() => socket.lastEndpoint ?? address)
    )
  })

/**
 * Connects a socket (the connection is made, and remade, in the background).
 *
 * @since 0.1.0
 * @category resources
 */
export const connect = (
  socket: zmq.Socket,
  address: string,
  option: string
): Effect.Effect<void, Errors.InvalidOptions> =>
  Effect.try({
    try: () => socket.connect(address),
    catch: (error) => new Errors.InvalidOptions({ option, reason: `cannot connect to ${address}: ${message(error)}` })
  })

/**
 * A zeromq.js context of its own (for a ZAP handler, which is per context), or the global one.
 *
 * @since 0.1.0
 * @category resources
 */
export const context = (own: boolean): zmq.Context | undefined => own ? new zmq.Context({ blocky: false }) : undefined
