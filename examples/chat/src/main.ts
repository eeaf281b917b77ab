/**
 * `npm start`: the chat on http://127.0.0.1:8000 (`HOST`, `PORT`), on the channel layer that
 * `CHANNEL_LAYER` names (default: in-memory). SIGINT or SIGTERM shuts it down gracefully: every
 * websocket leaves its room and is closed, then the layer closes.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as ChatServer from "./ChatServer.js"
import * as Transport from "./Transport.js"

const HttpLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    const port = yield* Config.port("PORT").pipe(Config.withDefault(8000))
    return NodeHttpServer.layer(createServer, { host, port })
  })
)

ChatServer.layer.pipe(
  Layer.provide(HttpLive),
  Layer.provide(Transport.layerFromEnv),
  Layer.launch,
  Effect.onInterrupt(() => Effect.logInfo("shut down")),
  NodeRuntime.runMain
)
