/**
 * The live amqplib connection of a RabbitMQ channel layer, for an application that wants its own
 * queues next to the layer (job queues, work queues: the "normal channels" the layer itself does
 * not support) without opening a second connection.
 *
 * ```ts
 * import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
 * import { Effect } from "effect"
 *
 * const enqueueJob = (job: Buffer) =>
 *   Effect.gen(function*() {
 *     const rabbit = yield* RabbitMQConnection.RabbitMQConnection
 *     const channel = yield* rabbit.confirmChannel
 *     yield* Effect.promise(() => channel.assertQueue("jobs", { durable: true }))
 *     channel.sendToQueue("jobs", job, { persistent: true })
 *     yield* Effect.promise(() => channel.waitForConfirms())
 *   }).pipe(Effect.scoped)
 *
 * enqueueJob(Buffer.from("resize photo 42")).pipe(Effect.provide(RabbitMQ.layer({ url: "amqp://localhost/asgi" })))
 * ```
 *
 * @since 0.1.0
 */
import type { Errors } from "@channel-layer/core"
import type { ChannelModel, ConfirmChannel } from "amqplib"
import type { Duration, Effect, Scope, Stream } from "effect"
import { Context } from "effect"

/**
 * Where the layer's connection stands:
 * - `idle`: nothing has used the layer yet, so it has not started connecting;
 * - `connecting`: connecting, or reconnecting after a failed attempt or a lost connection;
 * - `connected`: a connection is up and the queue declared;
 * - `failed`: the broker refused the last attempt for a reason retrying cannot fix (wrong
 *   credentials, a missing virtual host, a TLS certificate problem); the layer keeps retrying in the
 *   background, in case the configuration of the broker changes;
 * - `closed`: the layer's scope has closed.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "idle" | "connecting" | "connected" | "failed" | "closed"

/**
 * The connection's health, for a readiness probe or a status page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Health {
  readonly status: Status
  /**
   * Why the last attempt failed, or why the last connection was lost (kept once connected again),
   * in one line that names what to fix when it can; `undefined` until something went wrong.
   */
  readonly lastError: string | undefined
  /** When `status` took its value, in epoch milliseconds (the `Clock`'s). */
  readonly since: number
}

/**
 * Access to the layer's connection. Every accessor connects if the layer has not yet, and waits
 * while it reconnects, up to the layer's `waitForConnection`, then fails with `ConnectionClosed`.
 * Anything declared on the connection (queues, consumers) is gone after a reconnect: subscribe to
 * `connections` to set it up again on each new connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface RabbitMQConnectionService {
  /** The live connection. */
  readonly connection: Effect.Effect<ChannelModel, Errors.ConnectionClosed | Errors.LayerClosed>
  /** A new publisher-confirm channel on the live connection, closed when the scope closes. */
  readonly confirmChannel: Effect.Effect<ConfirmChannel, Errors.ConnectionClosed | Errors.LayerClosed, Scope.Scope>
  /** The name of the layer's queue (`channels_` + 12 letters), once it is declared. */
  readonly queue: Effect.Effect<string, Errors.ConnectionClosed | Errors.LayerClosed>
  /** The current connection, if there is one, then every new one after a reconnect. */
  readonly connections: Stream.Stream<ChannelModel>
  /** The connection's health now (never waits, never starts connecting). */
  readonly health: Effect.Effect<Health>
  /** The current health, then each change. */
  readonly healthChanges: Stream.Stream<Health>
  /**
   * Starts connecting if the layer has not yet, and completes once a connection is up (at once if
   * one is). Waits without bound, through failed attempts and refusals: for a process that should
   * start serving only once the broker lets it in.
   */
  readonly awaitReady: Effect.Effect<void, Errors.LayerClosed>
  /**
   * `awaitReady` within `timeout`: fails with `ConnectionClosed` when the timeout passes, or as
   * soon as the broker refuses the connection for a reason retrying cannot fix (status `failed`),
   * the reason naming the last error (`health`'s `lastError`).
   */
  readonly awaitReadyWithin: (
    timeout: Duration.DurationInput
  ) => Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed>
}

/**
 * The service tag, provided by `RabbitMQ.layer` next to `ChannelLayer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RabbitMQConnection extends Context.Tag("@channel-layer/rabbitmq/RabbitMQConnection")<
  RabbitMQConnection,
  RabbitMQConnectionService
>() {}
