/**
 * The job queue beside the channel layer. Jobs are JSON on a durable RabbitMQ queue (they survive
 * a broker restart and wait for a worker); each job names the requester's channel, and the worker
 * answers there through the channel layer (`send`), so the answer reaches the very web process,
 * and the very request, that asked.
 */
import { RabbitMQConnection } from "@channel-layer/rabbitmq"
import type { Channel } from "amqplib"
import { Config, Effect, Schema } from "effect"

/** The durable queue's name: `JOBS_QUEUE`, default `jobs`. */
export const queueName = Config.string("JOBS_QUEUE").pipe(Config.withDefault("jobs"))

/** A job: some text to analyse, and where to send the result. */
export const Job = Schema.Struct({
  id: Schema.String,
  text: Schema.String,
  /** The requester's channel, from `newChannel()` in the web process. */
  replyChannel: Schema.String
})

/** @see Job */
export type Job = typeof Job.Type

/** What the worker sends back, as a channel-layer message. */
export const JobResult = Schema.Struct({
  type: Schema.Literal("job.result"),
  id: Schema.String,
  words: Schema.Number,
  characters: Schema.Number,
  sha256: Schema.String,
  worker: Schema.Number
})

/** @see JobResult */
export type JobResult = typeof JobResult.Type

const encodeJob = Schema.encodeSync(Schema.parseJson(Job))

/** The broker refused the job, or the connection died before it confirmed it. */
export class JobNotQueued extends Schema.TaggedError<JobNotQueued>()("JobNotQueued", {
  queue: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `the job was not queued on ${this.queue}: ${String(this.cause)}`
  }
}

/** Declares the durable queue (idempotent: the same arguments every time). */
export const declareQueue = (channel: Channel, queue: string) =>
  Effect.tryPromise({
    try: () => channel.assertQueue(queue, { durable: true }),
    catch: (cause) => new JobNotQueued({ queue, cause })
  })

/**
 * Publishes a job, persistent, on the layer's own connection (`RabbitMQConnection`), and waits
 * for the broker's confirm: once this succeeds the job is on disk.
 */
export const publish = (job: Job) =>
  Effect.gen(function*() {
    const queue = yield* queueName
    const rabbit = yield* RabbitMQConnection.RabbitMQConnection
    const channel = yield* rabbit.confirmChannel
    yield* declareQueue(channel, queue)
    channel.sendToQueue(queue, Buffer.from(encodeJob(job)), { persistent: true, contentType: "application/json" })
    yield* Effect.tryPromise({
      try: () => channel.waitForConfirms(),
      catch: (cause) => new JobNotQueued({ queue, cause })
    })
  }).pipe(Effect.scoped, Effect.withSpan("jobs.publish", { attributes: { id: job.id } }))
