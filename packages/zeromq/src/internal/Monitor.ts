/**
 * Watches a socket's events (zeromq.js `socket.events`, a monitor socket) in one fiber: tracks
 * which endpoints completed their handshake, counts reconnects, and logs what an operator needs to
 * know, with the reason spelled out (a CURVE handshake that fails because of a wrong key says so).
 *
 * @since 0.1.0
 */
import { Metrics, type Warnings } from "@channel-layer/core"
import type { MetricLabel, Scope } from "effect"
import { Duration, Effect, Schedule } from "effect"
import type * as zmq from "zeromq"

/**
 * What a monitor knows about a socket's connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connections {
  /** Endpoints whose handshake completed and that have not disconnected since. */
  readonly connected: () => ReadonlySet<string>
  /** The last connection problem, spelled out, for error messages. */
  readonly lastProblem: () => string | undefined
  /**
   * Waits until each endpoint got a first answer (a handshake, or a failed attempt), or
   * `timeout` ms passed: after it, `connected` covers every peer that was up.
   */
  readonly settled: (endpoints: ReadonlyArray<string>, timeout: number) => Effect.Effect<void>
}

/**
 * What a monitor is told about the socket it watches.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How logs name the socket ("the SUB socket", "the proxy's PUB socket"). */
  readonly role: string
  /** Whether the socket uses CURVE (the explanations of handshake failures depend on it). */
  readonly curve: boolean
  /** Whether the socket connects (a client) or binds (a server). */
  readonly side: "client" | "server"
  readonly warnings: Warnings.Warnings
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly onHandshake?: (address: string) => void
  readonly onDisconnect?: (address: string) => void
}

const handshakeFailed = (role: string): Warnings.Kind => ({
  key: `handshake:${role}`,
  render: (total, top) => `${role}: ${total} failed handshakes: ${top}`
})

const disconnected = (role: string): Warnings.Kind => ({
  key: `disconnect:${role}`,
  render: (total, top) => `${role}: lost ${total} connections, reconnecting: ${top}`
})

/**
 * Why a handshake failed, in words an operator can act on.
 *
 * @since 0.1.0
 * @category logging
 */
export const explain = (event: zmq.Event, curve: boolean, side: "client" | "server"): string => {
  switch (event.type) {
    case "handshake:error:auth":
      return side === "client"
        ? `the peer refused this process's CURVE key (ZAP status ${event.error.status}): ` +
          "curve.publicKey is not in the peer's authorized keys"
        : `refused a client whose CURVE key is not authorized (ZAP status ${event.error.status})`
    case "handshake:error:protocol": {
      const code = event.error.code
      if (code === "ERR_ZMTP_MECHANISM_MISMATCH") {
        return `${code}: one side uses CURVE and the other does not; configure curve on both sides`
      }
      if (code === "ERR_ZMTP_CRYPTOGRAPHIC") {
        return side === "server"
          ? `${code}: a client's CURVE handshake failed; it uses a server public key that does not match this ` +
            "socket's secret key"
          : `${code}: the peer's CURVE key does not match curve.serverPublicKey`
      }
      return `${code}: ${event.error.message}`
    }
    case "handshake:error:other": {
      const base = `${event.error.code ?? "error"}: ${event.error.message}`
      return curve && side === "client"
        ? `${base}; the peer closed the connection during the CURVE handshake, which is what a wrong ` +
          "curve.serverPublicKey (or a client key the peer does not authorize) looks like"
        : base
    }
    default:
      return event.type
  }
}

/**
 * Starts watching a socket's events in a fiber of the current scope. The fiber ends when the
 * socket closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watch = (socket: zmq.Socket, options: Options): Effect.Effect<Connections, never, Scope.Scope> =>
  Effect.gen(function*() {
    const observer = socket.events
    const connected = new Set<string>()
    const everConnected = new Set<string>()
    const answered = new Set<string>()
    let lastProblem: string | undefined
    const failedKind = handshakeFailed(options.role)
    const disconnectedKind = disconnected(options.role)

    const handle = (event: zmq.Event): Effect.Effect<void> => {
      // A first answer: connected, or a failed attempt (not "connect:delay", which only says that
      // the attempt is under way).
      if ("address" in event && event.type !== "connect:delay" && event.type !== "connect") answered.add(event.address)
      switch (event.type) {
        case "handshake": {
          // A bound socket sees its own endpoint here, once per peer: peers come and go.
          if (options.side === "server") return Effect.void
          connected.add(event.address)
          options.onHandshake?.(event.address)
          if (everConnected.has(event.address)) {
            Metrics.reconnects.unsafeUpdate(1, options.labels)
            return Effect.logInfo(`${options.role}: reconnected to ${event.address}`)
          }
          everConnected.add(event.address)
          return Effect.logDebug(`${options.role}: connected to ${event.address}`)
        }
        case "disconnect": {
          if (options.side === "server") return Effect.logDebug(`${options.role}: a peer disconnected`)
          if (connected.delete(event.address)) {
            options.onDisconnect?.(event.address)
            options.warnings.report(disconnectedKind, event.address)
          }
          return Effect.void
        }
        case "handshake:error:auth":
        case "handshake:error:protocol":
        case "handshake:error:other": {
          const why = explain(event, options.curve, options.side)
          lastProblem = `handshake with ${event.address} failed: ${why}`
          options.warnings.report(failedKind, `${event.address}: ${why}`)
          return Effect.void
        }
        case "bind:error":
        case "accept:error":
          return Effect.logWarning(`${options.role}: ${event.type} on ${event.address}: ${event.error.message}`)
        case "connect:retry":
          lastProblem ??= `cannot connect to ${event.address} (retrying)`
          return Effect.logDebug(`${options.role}: cannot connect to ${event.address} yet, retrying`)
        default:
          return Effect.void
      }
    }

    const next = Effect.tryPromise(() => observer.receive() as Promise<zmq.Event | undefined>).pipe(
      Effect.orElseSucceed(() => undefined)
    )
    const loop: Effect.Effect<void> = Effect.flatMap(
      next,
      (event) =>
        event === undefined || event.type === "end" || observer.closed
          ? Effect.void
          : Effect.zipRight(handle(event), loop)
    )
    yield* Effect.forkScoped(Effect.interruptible(loop))
    return {
      connected: () => connected,
      lastProblem: () => lastProblem,
      settled: (endpoints, timeout) =>
        Effect.void.pipe(
          Effect.repeat({
            schedule: Schedule.spaced(Duration.millis(5)),
            until: () => endpoints.every((endpoint) => connected.has(endpoint) || answered.has(endpoint))
          }),
          Effect.interruptible,
          Effect.timeout(Duration.millis(timeout)),
          Effect.ignore
        )
    }
  })
