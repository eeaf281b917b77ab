/**
 * `npm run web`: the job web server on http://127.0.0.1:8001 (`HOST`, `PORT`), RabbitMQ at
 * `AMQP_URL` (default amqp://guest:guest@127.0.0.1/asgi). It starts serving only once connected:
 * a broker that refuses it, or stays unreachable for 10 seconds, ends it with one line saying why.
 */
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as Web from "./Web.js"

const HttpLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    const port = yield* Config.port("PORT").pipe(Config.withDefault(8001))
    return NodeHttpServer.layer(createServer, { host, port })
  })
)

/** The layer, once connected. */
const RabbitLive = Layer.effectDiscard(
  Effect.flatMap(RabbitMQConnection.RabbitMQConnection, (connection) => connection.awaitReadyWithin("10 seconds"))
).pipe(
  Layer.provideMerge(
    RabbitMQ.layerConfig({ url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL)) })
  )
)

Web.layer.pipe(
  Layer.provide(HttpLive),
  Layer.provide(RabbitLive),
  Layer.launch,
  Effect.tapError((error) =>
    Effect.logError(`the job web server cannot start: ${error instanceof Error ? error.message : String(error)}`)
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
