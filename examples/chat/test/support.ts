/**
 * Test helpers: start chat servers in this process on free ports, and websocket clients that
 * collect what they receive.
 */
import type { ChannelLayer } from "@channel-layer/core"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import * as ChatServer from "../src/ChatServer.js"

/** Starts a chat server on a free port of 127.0.0.1 for the current scope; returns `host:port`. */
export const startServer = (channelLayer: Layer.Layer<ChannelLayer.ChannelLayer, unknown>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      ChatServer.layer.pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })),
        Layer.provide(channelLayer)
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `127.0.0.1:${address.port}`
  })

/** A free TCP port on 127.0.0.1 (for servers started in another process). */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** What a chat client received, as parsed JSON. */
export interface Frame {
  readonly type: string
  readonly [key: string]: unknown
}

/** A websocket client of the chat. */
export interface Client {
  readonly frames: ReadonlyArray<Frame>
  readonly say: (text: string) => Effect.Effect<void>
  /** Waits until a received frame matches, and returns it. */
  readonly waitFor: (predicate: (frame: Frame) => boolean, timeout?: Duration.DurationInput) => Effect.Effect<Frame>
  /** Resolves when the server closes the socket, with the close code. */
  readonly closed: Promise<number>
}

/** Connects to `ws://<server>/ws?room=..&name=..` for the current scope, once the server said welcome. */
export const connect = (server: string, room: string, name: string) =>
  Effect.gen(function*() {
    const url = `ws://${server}/ws?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocket(url)),
      (socket) => Effect.sync(() => socket.close(1000))
    )
    const frames: Array<Frame> = []
    const listeners = new Set<() => void>()
    socket.on("message", (data) => {
      frames.push(JSON.parse(String(data)) as Frame)
      for (const listener of listeners) listener()
    })
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
    const waitFor = (predicate: (frame: Frame) => boolean, timeout: Duration.DurationInput = "10 seconds") =>
      Effect.async<Frame>((resume) => {
        const check = () => {
          const found = frames.find(predicate)
          if (found !== undefined) {
            listeners.delete(check)
            resume(Effect.succeed(found))
          }
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`${name} did not receive the frame; got ${JSON.stringify(frames)}`)
        }),
        Effect.orDie
      )
    const client: Client = {
      frames,
      say: (text) => Effect.sync(() => socket.send(JSON.stringify({ text }))),
      waitFor,
      closed
    }
    yield* waitFor((frame) => frame.type === "chat.welcome")
    return client
  })

/** A predicate for a `chat.message` with this text. */
export const said = (text: string) => (frame: Frame) => frame.type === "chat.message" && frame.text === text

/** A chat server running as its own process (`src/main.ts`, as `npm start` runs it). */
export interface ServerProcess {
  readonly address: string
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly kill: (signal: NodeJS.Signals) => void
}

const exampleDir = fileURLToPath(new URL("..", import.meta.url))

/**
 * Starts `src/main.ts` with this environment on `port` (default: a free one), for the current
 * scope; waits until it listens.
 */
export const spawnServer = (env: Record<string, string>, chosenPort?: number) =>
  Effect.gen(function*() {
    const port = chosenPort ?? (yield* freePort)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        // node itself with tsx's loader (not the tsx bin, a wrapper whose child would outlive a SIGKILL).
        spawn(process.execPath, ["--conditions=channel-layer-source", "--import", "tsx", "src/main.ts"], {
          cwd: exampleDir,
          env: { ...process.env, ...env, PORT: String(port) },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    child.stdout.on("data", (chunk) => output += String(chunk))
    child.stderr.on("data", (chunk) => output += String(chunk))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    yield* Effect.promise(async () => {
      while (!output.includes("Listening on") && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }).pipe(Effect.timeout("30 seconds"), Effect.orDie)
    if (child.exitCode !== null) return yield* Effect.dieMessage(`the chat server exited: ${output}`)
    const server: ServerProcess = {
      address: `127.0.0.1:${port}`,
      output: () => output,
      exited,
      kill: (signal) => void child.kill(signal)
    }
    return server
  })
