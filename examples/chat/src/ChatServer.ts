/**
 * The chat server: an HTTP router on @effect/platform that serves the page at `/` and a websocket
 * at `/ws?room=<room>&name=<user>`. Each websocket gets its own channel from the layer
 * (`newChannel`), joins the room's group (`groupAdd`), forwards every message of its channel to
 * the browser, and sends what the user types to the room (`groupSend`). Rooms work across servers
 * because the channel layer carries the group messages.
 */
import { ChannelLayer, TypedChannel } from "@channel-layer/core"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import { Config, Effect, Layer, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { ChatMessage, ClientFrame, RoomName, UserName } from "./ChatMessage.js"
import { LayerHealth } from "./Transport.js"

/** The typed view of the layer for the chat's messages (encode on send, decode on receive). */
const chat = TypedChannel.make(ChatMessage)

const indexHtml = fileURLToPath(new URL("../public/index.html", import.meta.url))
const favicon = fileURLToPath(new URL("../public/favicon.svg", import.meta.url))

/** Why the channel layer cannot carry messages now, if it cannot (always usable without `LayerHealth`). */
const layerProblem = Effect.flatMap(
  Effect.serviceOption(LayerHealth),
  Option.match({ onNone: () => Effect.succeed(undefined), onSome: (health) => health.problem })
)

/** The close code that tells the page to come back later (1013, "try again later"). */
const TRY_AGAIN_LATER = 1013

const decodeFrame = Schema.decodeUnknownEither(ClientFrame)

const decoder = new TextDecoder()

/**
 * One websocket: join the room with a fresh channel, forward the channel to the socket, send
 * what the user types to the room. Leaving (the socket closes, or the server shuts down) sends
 * `chat.leave` and discards the membership.
 */
const session = (socket: Socket.Socket, room: string, user: string, server: string) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const write = yield* socket.writer
    const writeJson = (value: unknown) => write(JSON.stringify(value))
    const now = () => Date.now()
    const connection = randomUUID()

    // The layer cannot carry messages: say why to the page, which shows it and tries again later.
    const unavailable = (reason: string) =>
      Effect.zipRight(
        writeJson({ type: "chat.unavailable", reason }).pipe(
          Effect.zipRight(write(new Socket.CloseEvent(TRY_AGAIN_LATER, "channel layer unavailable"))),
          Effect.forkScoped
        ),
        socket.runRaw(() => Effect.void).pipe(Effect.ignore)
      )
    const problem = yield* layerProblem
    if (problem !== undefined) {
      yield* Effect.logWarning(`refusing a websocket: ${problem}`)
      return yield* unavailable(problem)
    }
    const joined = yield* layer.newChannel("chat").pipe(
      Effect.tap((channel) => layer.groupAdd(room, channel)),
      Effect.either
    )
    if (joined._tag === "Left") {
      yield* Effect.logWarning("could not join the room", joined.left)
      return yield* unavailable(`the chat server could not join the room: ${joined.left.message}`)
    }
    const channel = joined.right
    yield* Effect.addFinalizer(() =>
      chat.groupSend(room, { type: "chat.leave", room, user, server, at: now() }).pipe(
        Effect.zipRight(layer.groupDiscard(room, channel)),
        Effect.catchAll((error) => Effect.logWarning("could not leave the room cleanly", error))
      )
    )
    yield* Effect.logInfo("joined").pipe(Effect.annotateLogs({ channel }))

    // Every message of this connection's channel goes to the browser, as JSON.
    yield* Effect.forever(
      chat.receive(channel).pipe(
        Effect.flatMap(writeJson),
        Effect.catchTag("MessageDecodeError", (error) =>
          Effect.logWarning("skipping a message the chat does not know", error))
      )
    ).pipe(
      Effect.catchTag("LayerClosed", () =>
        Effect.logInfo("the channel layer closed")),
      Effect.catchAll((error) => Effect.logWarning("forwarding stopped", error)),
      Effect.forkScoped
    )

    // The socket opens when `runRaw` starts (writes wait for it), so greet from another fiber.
    yield* writeJson({ type: "chat.welcome", room, user, server, connection }).pipe(
      Effect.zipRight(chat.groupSend(room, { type: "chat.join", room, user, server, at: now() })),
      Effect.catchAll((error) => Effect.logWarning("could not announce the join", error)),
      Effect.forkScoped
    )

    yield* socket.runRaw((data) => {
      const frame = decodeFrame(typeof data === "string" ? data : decoder.decode(data))
      if (frame._tag === "Left") {
        return writeJson({ type: "chat.error", reason: "send {\"text\": \"...\"} with 1 to 2000 characters" })
      }
      const said = { type: "chat.message", room, user, text: frame.right.text, server, at: now(), connection } as const
      return chat.groupSend(room, said).pipe(
        Effect.catchAll((error) =>
          Effect.zipRight(
            Effect.logWarning("could not send to the room", error),
            writeJson({ type: "chat.error", reason: error.message })
          )
        )
      )
    }).pipe(
      // A browser closing its tab (1001) or a client closing without a code (1005) is a normal end.
      Effect.catchIf(Socket.SocketCloseError.isClean((code) => code === 1001 || code === 1005), () => Effect.void)
    )
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) => Effect.logWarning("websocket session ended with an error", error)),
    Effect.ensuring(Effect.logInfo("left")),
    Effect.annotateLogs({ room, user })
  )

const Query = Schema.Struct({ room: RoomName, name: UserName })

const websocket = (server: string) =>
  Effect.gen(function*() {
    const query = yield* HttpServerRequest.schemaSearchParams(Query).pipe(Effect.option)
    if (Option.isNone(query)) {
      return HttpServerResponse.text(
        "expected /ws?room=<letters, digits, - _ . up to 80>&name=<1 to 40 characters>\n",
        { status: 400 }
      )
    }
    const socket = yield* HttpServerRequest.upgrade
    yield* session(socket, query.value.room, query.value.name, server)
    return HttpServerResponse.empty()
  })

/** `ok` (200) while the channel layer is usable, else why not (503). */
const healthz = Effect.map(
  layerProblem,
  (problem) =>
    problem === undefined ? HttpServerResponse.text("ok\n") : HttpServerResponse.text(`${problem}\n`, { status: 503 })
)

/** The routes of the chat: the page, its icon, the websocket and a health check. */
export const router = (server: string) =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/", HttpServerResponse.file(indexHtml)),
    HttpRouter.get("/favicon.svg", HttpServerResponse.file(favicon, { contentType: "image/svg+xml" })),
    HttpRouter.get("/favicon.ico", HttpServerResponse.file(favicon, { contentType: "image/svg+xml" })),
    HttpRouter.get("/ws", websocket(server)),
    HttpRouter.get("/healthz", healthz)
  )

/**
 * Serves the chat on the `HttpServer` it is given, through the `ChannelLayer` it is given. The
 * server's name (shown next to each message) is `SERVER_NAME`, else the address it listens on.
 */
export const layer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const httpServer = yield* HttpServer.HttpServer
    const configured = yield* Config.option(Config.string("SERVER_NAME"))
    const name = Option.getOrElse(
      configured,
      () => HttpServer.formatAddress(httpServer.address).replace(/^http:\/\//, "")
    )
    return HttpServer.serve(router(name)).pipe(HttpServer.withLogAddress)
  })
)
