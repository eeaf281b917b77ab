/**
 * `npm start`: the chat on http://127.0.0.1:8000 (`HOST`, `PORT`), on the channel layer that
 * `CHANNEL_LAYER` names (default: in-memory). SIGINT or SIGTERM shuts it down gracefully: every
 * websocket leaves its room and is closed, then the layer closes. On RabbitMQ it starts only once
 * the broker lets it in: a broker that refuses it (a missing vhost) or stays unreachable for
 * `STARTUP_TIMEOUT` ends it with one line saying why, and exit status 1.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as ChatServer from "./ChatServer.js"
import * as Transport from "./Transport.js"

const server = createServer()

const HttpLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    const port = yield* Config.port("PORT").pipe(Config.withDefault(8000))
    return NodeHttpServer.layer(() => server, { host, port })
  })
)

/**
 * On shutdown, connections still open a second after the chat stopped (a browser's keep-alive
 * connection busy with a request, a page reconnecting) are closed: closing the HTTP server waits
 * for them, and would otherwise wait as long as a page stays open. Released before the server.
 */
const CloseStragglers = Layer.scopedDiscard(
  Effect.zipRight(
    HttpServer.HttpServer,
    Effect.addFinalizer(() =>
      Effect.sync(() => {
        setTimeout(() => server.closeAllConnections(), 1000).unref()
      })
    )
  )
)

ChatServer.layer.pipe(
  Layer.merge(CloseStragglers),
  Layer.provide(HttpLive),
  Layer.provide(Transport.layerFromEnv),
  Layer.launch,
  // One line that says why (a broker that refuses the server names the fix), then exit status 1.
  Effect.tapError((error) =>
    Effect.logError(`the chat server cannot start: ${error instanceof Error ? error.message : String(error)}`)
  ),
  Effect.onInterrupt(() => Effect.logInfo("shut down")),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
