/**
 * A TCP proxy on 127.0.0.1 that sits between a client under test and the broker, to simulate
 * network faults: cut every connection, refuse new ones (broker down), or silently drop bytes
 * (hung link).
 */
import type { Scope } from "effect"
import { Data, Duration, Effect, Schedule } from "effect"
import * as net from "node:net"
import { withLiveClock } from "./internal.js"

/** Where the proxy forwards to. */
export interface Target {
  readonly host: string
  readonly port: number
}

/** Options of {@link make}. */
export interface TcpProxyOptions {
  readonly target: Target
}

/** The proxy could not listen. */
export class TcpProxyError extends Data.TaggedError("TcpProxyError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/** A running proxy; see {@link make}. */
export interface TcpProxy {
  /** The ephemeral port the proxy listens on (127.0.0.1). */
  readonly port: number
  /** `amqp://guest:guest@127.0.0.1:<port>/<vhost>` (vhost default `asgi`, URI-encoded). */
  readonly url: (vhost?: string) => string
  /**
   * Resets (TCP RST) both sockets of every live client/upstream pair at once, like a network cut;
   * the client sees ECONNRESET. The proxy keeps listening: clients can connect again.
   * Returns how many pairs were cut.
   */
  readonly cutAll: Effect.Effect<number>
  /**
   * While on, new connections are accepted and reset at once without reaching the target,
   * like a broker that is down (the client sees ECONNRESET or a closed socket, not ECONNREFUSED).
   * Existing connections are left alone.
   */
  readonly refuse: (on: boolean) => Effect.Effect<void>
  /**
   * While on, every byte is silently dropped in both directions, on existing and new
   * connections: TCP stays up but nothing gets through, like a hung link. Bytes dropped are
   * lost for good, so a connection that lived through a blackhole carries a corrupt stream
   * afterwards: cut it.
   */
  readonly blackhole: (on: boolean) => Effect.Effect<void>
  /** Client connections accepted since start (including refused ones). */
  readonly connectionsAccepted: Effect.Effect<number>
  /** Client connections refused since start (see `refuse`). */
  readonly connectionsRefused: Effect.Effect<number>
  /** Client/upstream pairs currently open. */
  readonly activeConnections: Effect.Effect<number>
  /** Waits (polling, wall clock) until `activeConnections` satisfies `predicate`, e.g. `(n) => n >= 1`. */
  readonly awaitActive: (
    predicate: (active: number) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<number, TcpProxyError>
}

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
}

/**
 * Starts a proxy on 127.0.0.1 (ephemeral port) forwarding to `target`. Closing the scope closes
 * the server and destroys every socket.
 */
export const make = (options: TcpProxyOptions): Effect.Effect<TcpProxy, TcpProxyError, Scope.Scope> =>
  Effect.gen(function*() {
    const pairs = new Set<Pair>()
    const sockets = new Set<net.Socket>()
    let refusing = false
    let blackholed = false
    let accepted = 0
    let refused = 0

    const track = (socket: net.Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    }

    // Copies `from` to `to` with back-pressure, dropping everything while blackholed.
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk: Buffer) => {
        if (blackholed || to.destroyed) return
        if (!to.write(chunk) && !from.isPaused()) {
          from.pause()
          to.once("drain", () => from.resume())
        }
      })
      from.on("end", () => {
        if (!to.destroyed) to.end()
      })
    }

    const onConnection = (client: net.Socket) => {
      accepted++
      track(client)
      client.on("error", () => {})
      if (refusing) {
        refused++
        client.resetAndDestroy()
        return
      }
      client.setNoDelay(true)
      const upstream = net.connect({ host: options.target.host, port: options.target.port, noDelay: true })
      track(upstream)
      const pair: Pair = { client, upstream }
      pairs.add(pair)
      const teardown = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", teardown)
      upstream.on("error", teardown)
      client.once("close", teardown)
      upstream.once("close", teardown)
      pipe(client, upstream)
      pipe(upstream, client)
    }

    const server = net.createServer({ noDelay: true }, onConnection)

    const port = yield* Effect.acquireRelease(
      Effect.async<number, TcpProxyError>((resume) => {
        const onError = (cause: Error) =>
          resume(Effect.fail(new TcpProxyError({ message: `proxy cannot listen: ${cause.message}`, cause })))
        server.once("error", onError)
        server.listen(0, "127.0.0.1", () => {
          server.off("error", onError)
          server.on("error", () => {})
          resume(Effect.succeed((server.address() as net.AddressInfo).port))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          for (const socket of sockets) socket.destroy()
          pairs.clear()
        })
    )

    const cutAll = Effect.sync(() => {
      const cut = [...pairs]
      pairs.clear()
      for (const { client, upstream } of cut) {
        if (!client.destroyed) client.resetAndDestroy()
        if (!upstream.destroyed) upstream.resetAndDestroy()
      }
      return cut.length
    })

    const activeConnections = Effect.sync(() => pairs.size)

    const awaitActive = (predicate: (active: number) => boolean, timeout: Duration.DurationInput = "10 seconds") =>
      activeConnections.pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: predicate }),
        // `repeat` with a schedule yields the schedule's output: read the count itself.
        Effect.zipRight(activeConnections),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new TcpProxyError({
              message: `proxy: active connections (${pairs.size}) did not reach the expected count within ${
                Duration.format(Duration.decode(timeout))
              }`,
              cause: undefined
            })
        }),
        withLiveClock
      )

    return {
      port,
      url: (vhost = "asgi") => `amqp://guest:guest@127.0.0.1:${port}/${encodeURIComponent(vhost)}`,
      cutAll,
      refuse: (on) =>
        Effect.sync(() => {
          refusing = on
        }),
      blackhole: (on) =>
        Effect.sync(() => {
          blackholed = on
        }),
      connectionsAccepted: Effect.sync(() => accepted),
      connectionsRefused: Effect.sync(() => refused),
      activeConnections,
      awaitActive
    } satisfies TcpProxy
  })
