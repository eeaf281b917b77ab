/**
 * One node-redis connection to one Redis server, kept open for the layer's lifetime: node-redis
 * reconnects forever (jittered exponential backoff from 50 ms, capped at 2 s), and this module
 * tracks when the connection is ready, so that callers wait for it (up to a bound, then
 * `ConnectionClosed`) instead of node-redis's offline queue (turned off: a command queued there
 * could run after its caller gave up and reported the send as failed).
 *
 * Two roles: `commands` (sends, scripts, membership: many commands in flight, pipelined by
 * node-redis) and `blocking` (one BZPOPMIN at a time; its `CLIENT ID` is known before it is ready,
 * so another connection can end a blocked pop with `CLIENT UNBLOCK`).
 */
import { Errors, Metrics } from "@channel-layer/core"
import { createClient, ErrorReply, type RedisClientOptions, RESP_TYPES } from "@redis/client"
import type { MetricLabel, Scope } from "effect"
import { Data, Duration, Effect, FiberSet } from "effect"
import type { Endpoint, Resolved } from "./options.js"

/** Redis answered with an error (`NOSCRIPT`, `WRONGTYPE`, `OOM`, …): the connection is fine. */
export class ReplyError extends Data.TaggedError("ReplyError")<{ readonly reason: string }> {}

/** What a command may fail with. */
export type CallError = Errors.ConnectionClosed | Errors.LayerClosed | ReplyError

/** An argument of a command. */
export type Argument = string | Buffer

/** How long a blocked BZPOPMIN may stay silent before its socket is taken for dead. */
export const BLOCKING_SOCKET_TIMEOUT = 15_000

/** How often an idle blocking connection pings. */
export const BLOCKING_PING_INTERVAL = 5_000

/** One connection; see the module documentation. */
export interface Connection {
  readonly role: "commands" | "blocking"
  readonly isReady: () => boolean
  /** The `CLIENT ID` of the current socket (blocking role), once ready. */
  readonly clientId: () => number | undefined
  /**
   * Runs one command once the connection is ready, waiting up to `wait` ms for it (forever when
   * `undefined`), then `ConnectionClosed`. A command whose reply is lost with its connection fails
   * with `ConnectionClosed`: it may or may not have run.
   */
  readonly call: (args: ReadonlyArray<Argument>, wait: number | undefined) => Effect.Effect<unknown, CallError>
  /** Waits until the connection is ready, up to `wait` ms (forever when `undefined`). */
  readonly awaitReady: (wait: number | undefined) => Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed>
  /**
   * Sends one command now, as a promise the caller keeps (to learn what a command it stopped
   * waiting for did); it rejects at once when the connection is not ready.
   */
  readonly send: (args: ReadonlyArray<Argument>) => Promise<unknown>
  /** The error a rejected `send` stands for. */
  readonly toError: (error: unknown, args: ReadonlyArray<Argument>) => CallError
  /** Registers what to do each time the connection becomes ready again after a loss. */
  readonly onReconnect: (run: () => Effect.Effect<void>) => void
  /** Why the connection was last lost or could not be made. */
  readonly lastError: () => string | undefined
}

const describe = (error: unknown): string =>
  error instanceof Error
    ? `${error.message || error.name}${
      "code" in error && typeof error.code === "string" && !error.message.includes(error.code) ? ` (${error.code})` : ""
    }`
    : String(error)

/** Jittered exponential backoff from 50 ms, capped at 2 s. */
const reconnectDelay = (retries: number): number =>
  Math.round(Math.min(50 * 2 ** Math.min(retries, 10), 2000) * (0.8 + 0.4 * Math.random()))

/** Opens a connection in the current scope (connecting in the background); closing the scope closes it. */
export const make = (
  endpoint: Endpoint,
  options: Resolved,
  role: "commands" | "blocking",
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never>()
    const log = (effect: Effect.Effect<void>) => {
      runFork(effect.pipe(Effect.annotateLogs({ transport: "redis", redis: endpoint.display, connection: role })))
    }
    const ready = yield* Effect.makeLatch(false)
    let closed = false
    let readyNow = false
    let everReady = false
    let failures = 0
    let lastError: string | undefined = undefined
    let clientId: number | undefined = undefined
    let previousId: number | undefined = undefined
    const reconnectHooks: Array<() => Effect.Effect<void>> = []

    const common = {
      connectTimeout: options.connectTimeout,
      reconnectStrategy: reconnectDelay,
      ...(role === "blocking" ? { socketTimeout: BLOCKING_SOCKET_TIMEOUT } : {})
    }
    const socket: NonNullable<RedisClientOptions["socket"]> = endpoint.path !== undefined
      ? { ...common, path: endpoint.path, tls: false }
      : endpoint.url?.startsWith("rediss:") === true
      ? { ...common, ...options.tls, tls: true }
      : common
    const base = createClient({
      ...(endpoint.url !== undefined ? { url: endpoint.url } : {}),
      ...(endpoint.database !== undefined ? { database: endpoint.database } : {}),
      ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
      socket,
      disableOfflineQueue: true,
      // An idle blocking connection (one of the normal channels' pool) pings, so that its socket
      // timeout takes only a silent link for dead.
      ...(role === "blocking" ? { pingInterval: BLOCKING_PING_INTERVAL } : {})
    })
    const client = base.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })

    const lost = () => {
      readyNow = false
      clientId = undefined
      ready.unsafeClose()
    }

    base.on("error", (error: unknown) => {
      lastError = describe(error)
      if (!readyNow && !closed) {
        failures++
        Metrics.connectFailures.unsafeUpdate(1, labels)
        const line = `cannot connect to Redis at ${endpoint.display} (attempt ${failures}): ${lastError}`
        log(failures === 1 || failures % 20 === 0 ? Effect.logWarning(line) : Effect.logDebug(line))
      }
    })
    base.on("reconnecting", lost)
    base.on("end", lost)
    base.on("ready", () => {
      const opened = () => {
        if (closed) return
        readyNow = true
        failures = 0
        ready.unsafeOpen()
        if (everReady) {
          Metrics.reconnects.unsafeUpdate(1, labels)
          log(Effect.logInfo(`reconnected to Redis at ${endpoint.display}`))
          for (const hook of reconnectHooks) runFork(hook())
        }
        everReady = true
      }
      if (role === "commands") return opened()
      // A blocking connection is ready once its id is known, so that its pops can be unblocked.
      client.sendCommand(["CLIENT", "ID"]).then(
        (id) => {
          // The previous socket's client may still be parked in a BZPOPMIN on the server (a link
          // that died without a reset): it would take the next message into the void. End it.
          if (previousId !== undefined) client.sendCommand(["CLIENT", "KILL", "ID", String(previousId)]).catch(() => {})
          clientId = Number(id)
          previousId = clientId
          opened()
        },
        (error: unknown) => {
          lastError = describe(error)
        }
      )
    })

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        base.connect().catch((error: unknown) => {
          lastError = describe(error)
        })
      }),
      () =>
        Effect.sync(() => {
          closed = true
          lost()
          // Waiters wake up and find the connection closed.
          ready.unsafeOpen()
          base.destroy()
        })
    )

    const toError = (error: unknown, args: ReadonlyArray<Argument>): CallError =>
      error instanceof ErrorReply
        ? new ReplyError({ reason: error.message })
        : closed
        ? new Errors.LayerClosed()
        : new Errors.ConnectionClosed({
          reason: `the connection to Redis at ${endpoint.display} was lost during ${String(args[0])} ` +
            `(it may or may not have run): ${describe(error)}`
        })

    const exec = (args: ReadonlyArray<Argument>): Effect.Effect<unknown, CallError> =>
      Effect.tryPromise({ try: () => client.sendCommand(args), catch: (error) => toError(error, args) })

    const awaitReady = (
      wait: number | undefined
    ): Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed> => {
      const waited = Effect.flatMap(
        ready.await,
        () => closed ? Effect.fail(new Errors.LayerClosed()) : Effect.void
      )
      return wait === undefined ? waited : waited.pipe(
        Effect.timeoutFail({
          duration: Duration.millis(wait),
          onTimeout: () =>
            new Errors.ConnectionClosed({
              reason: `no connection to Redis at ${endpoint.display} within waitForConnection (${wait} ms)` +
                (lastError === undefined ? "" : `; last error: ${lastError}`)
            })
        })
      )
    }

    const call: Connection["call"] = (args, wait) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(new Errors.LayerClosed())
        if (readyNow) return exec(args)
        return Effect.zipRight(awaitReady(wait), Effect.suspend(() => exec(args)))
      })

    return {
      role,
      isReady: () => readyNow,
      clientId: () => clientId,
      call,
      awaitReady,
      send: (args) => client.sendCommand(args),
      toError,
      onReconnect: (run) => {
        reconnectHooks.push(run)
      },
      lastError: () => lastError
    }
  })

/** Whether `error` is Redis's answer that a script is not in its cache (after a restart or `SCRIPT FLUSH`). */
export const isNoScript = (error: CallError): boolean =>
  error._tag === "ReplyError" && error.reason.startsWith("NOSCRIPT")
