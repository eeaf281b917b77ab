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
import type { Effect, Scope, Stream } from "effect"
import { Context } from "effect"

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
