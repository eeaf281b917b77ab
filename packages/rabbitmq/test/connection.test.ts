/**
 * RabbitMQConnection: the layer's live amqplib connection for an application's own queues (a
 * job queue next to the layer), and the stream of connections.
 */
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { unique, url } from "./helpers.js"

describe("RabbitMQConnection", () => {
  it.scopedLive("publishes and consumes a job queue on the layer's connection", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(RabbitMQ.layer({ url }))
      const rabbit = context.unsafeMap.get(
        RabbitMQConnection.RabbitMQConnection.key
      ) as RabbitMQConnection.RabbitMQConnectionService
      const jobs = unique("jobs")
      const channel = yield* rabbit.confirmChannel
      yield* Effect.promise(() => channel.assertQueue(jobs, { exclusive: true }))
      channel.sendToQueue(jobs, Buffer.from("resize photo 42"))
      yield* Effect.promise(() => channel.waitForConfirms())
      const job = yield* Effect.promise(() => channel.get(jobs, { noAck: true }))
      expect(job && job.content.toString()).toBe("resize photo 42")
      const model = yield* rabbit.connection
      const [first] = yield* rabbit.connections.pipe(Stream.take(1), Stream.runCollect)
      expect(first).toBe(model)
      expect(yield* rabbit.queue).toMatch(/^channels_[a-zA-Z]{12}$/)
    }))

  it.scopedLive("is provided by the same layer instance as ChannelLayer", () =>
    Effect.gen(function*() {
      const services = yield* RabbitMQ.make({ url })
      const channel = yield* services.channelLayer.newChannel()
      expect(channel.startsWith(`${yield* services.connection.queue}!`)).toBe(true)
    }))
})
