/**
 * `npm start` in examples/django-interop: the Node bot in the Django chat room `ROOM` (default
 * `lobby`), on the RabbitMQ layer at `AMQP_URL` (default amqp://guest:guest@127.0.0.1/asgi, the
 * same broker and vhost as the Django settings).
 */
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect } from "effect"
import * as Bot from "./Bot.js"

const RabbitLive = RabbitMQ.layerConfig({
  url: Config.string("AMQP_URL").pipe(Config.withDefault(RabbitMQ.DEFAULT_URL)),
  groupsExchange: Config.string("GROUPS_EXCHANGE").pipe(Config.withDefault("groups"))
})

Effect.gen(function*() {
  const room = yield* Config.string("ROOM").pipe(Config.withDefault("lobby"))
  yield* Bot.run(room)
}).pipe(Effect.provide(RabbitLive), NodeRuntime.runMain)
