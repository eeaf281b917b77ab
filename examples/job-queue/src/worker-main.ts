/**
 * `npm run worker`: a job worker, RabbitMQ at `AMQP_URL` (default amqp://guest:guest@127.0.0.1/asgi).
 * Run as many as you like: the queue hands each job to one of them. It starts consuming only once
 * connected: a broker that refuses it, or stays unreachable for 10 seconds, ends it with one line
 * saying why.
 */
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect } from "effect"
import * as Worker from "./Worker.js"

const RabbitLive = RabbitMQ.layerConfig({
  url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL))
})

RabbitMQConnection.RabbitMQConnection.pipe(
  Effect.flatMap((connection) => connection.awaitReadyWithin("10 seconds")),
  Effect.zipRight(Worker.run),
  Effect.provide(RabbitLive),
  Effect.tapError((error) =>
    Effect.logError(`the job worker cannot start: ${error instanceof Error ? error.message : String(error)}`)
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
