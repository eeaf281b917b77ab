/**
 * The worker: consumes the durable queue one job at a time (prefetch 1), computes the result and
 * sends it to the job's reply channel through the channel layer, then acknowledges the job. It
 * uses the layer's own connection (`RabbitMQConnection.connections`) and consumes again on every
 * new connection after a reconnect. A job is acknowledged only once its answer was sent, so a
 * worker that dies mid-job leaves it to the next worker.
 */
import { ChannelLayer } from "@channel-layer/core"
import { RabbitMQConnection } from "@channel-layer/rabbitmq"
import type { ChannelModel, ConsumeMessage } from "amqplib"
import { Effect, FiberSet, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Jobs from "./Jobs.js"

const decodeJob = Schema.decodeUnknown(Schema.parseJson(Jobs.Job))

/** The work itself: count the words and characters, hash the text. */
export const compute = (job: Jobs.Job): Jobs.JobResult => ({
  type: "job.result",
  id: job.id,
  words: job.text.split(/\s+/).filter((word) => word.length > 0).length,
  characters: [...job.text].length,
  sha256: createHash("sha256").update(job.text).digest("hex"),
  worker: process.pid
})

/** Handles one delivery: answer, then ack. A job that does not decode is dropped (nack, no requeue). */
const handle = (delivery: ConsumeMessage, ack: () => void, drop: () => void) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const job = yield* decodeJob(delivery.content.toString("utf8")).pipe(
      Effect.tapError((error) =>
        Effect.sync(drop).pipe(Effect.zipRight(Effect.logWarning("dropping a bad job", error)))
      )
    )
    yield* layer.send(job.replyChannel, compute(job))
    ack()
    yield* Effect.logInfo("job done").pipe(Effect.annotateLogs({ id: job.id }))
  }).pipe(Effect.catchAll((error) => Effect.logWarning("job not answered", error)))

/** Consumes the queue on one connection until its channel closes. */
const consumeOn = (connection: ChannelModel, queue: string) =>
  Effect.gen(function*() {
    // Each delivery is handled in a fiber of this scope: closing it (the connection is gone, or
    // the worker stops) interrupts the jobs still running.
    const runFork = yield* FiberSet.makeRuntime<ChannelLayer.ChannelLayer>()
    const channel = yield* Effect.acquireRelease(
      Effect.promise(() => connection.createChannel()),
      (channel) => Effect.promise(() => channel.close().catch(() => undefined))
    )
    const closed = Effect.async<void>((resume) => {
      channel.once("close", () => resume(Effect.void))
    })
    yield* Jobs.declareQueue(channel, queue)
    yield* Effect.promise(() => channel.prefetch(1))
    yield* Effect.promise(() =>
      channel.consume(queue, (delivery) => {
        if (delivery === null) return
        runFork(handle(delivery, () => channel.ack(delivery), () => channel.nack(delivery, false, false)))
      })
    )
    yield* Effect.logInfo(`consuming ${queue}`)
    yield* closed
  }).pipe(Effect.scoped)

/** Runs the worker until interrupted. */
export const run = Effect.gen(function*() {
  const queue = yield* Jobs.queueName
  const rabbit = yield* RabbitMQConnection.RabbitMQConnection
  // The layer connects on first use; `connections` then yields the live connection and each new one.
  yield* Effect.retry(rabbit.connection, { while: (error) => error._tag === "ConnectionClosed" })
  yield* Stream.runForEach(
    rabbit.connections,
    (connection) =>
      consumeOn(connection, queue).pipe(Effect.catchAllCause((cause) => Effect.logWarning("consumer stopped", cause)))
  )
})
