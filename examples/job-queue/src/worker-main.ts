/**
 * `npm run worker`: a job worker, RabbitMQ at `AMQP_URL` (default amqp://guest:guest@127.0.0.1/asgi).
 * Run as many as you like: the queue hands each job to one of them.
 */
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect } from "effect"
import * as Worker from "./Worker.js"

const RabbitLive = RabbitMQ.layerConfig({
  url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL))
})

Worker.run.pipe(Effect.provide(RabbitLive), NodeRuntime.runMain)
