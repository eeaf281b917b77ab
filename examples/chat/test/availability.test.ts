/**
 * The chat and a broker that is not there: the server refuses to start when RabbitMQ refuses it
 * (naming why and the fix) or Redis stays unreachable for STARTUP_TIMEOUT, and once started (on
 * RabbitMQ or on Redis), a websocket opened while the layer reconnects is
 * told why (`chat.unavailable`, close code 1013) and `/healthz` answers 503 with the reason.
 */
import { InMemory } from "@channel-layer/core"
import { TcpProxy } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import WebSocket from "ws"
import * as Transport from "../src/Transport.js"
import { connect, freePort, spawnServer, startServer } from "./support.js"

/** The first frame of a fresh websocket, and its close code. */
const firstFrameAndClose = (server: string) =>
  Effect.promise(() =>
    new Promise<{ frame: { type: string; reason?: string }; code: number }>((resolve, reject) => {
      const socket = new WebSocket(`ws://${server}/ws?room=lobby&name=alice`)
      let frame: { type: string; reason?: string } = { type: "none" }
      socket.on("message", (data) => {
        if (frame.type === "none") frame = JSON.parse(String(data)) as typeof frame
      })
      socket.on("close", (code) => resolve({ frame, code }))
      socket.on("error", reject)
    })
  )

/**
 * A chat server on this transport reached through a TCP proxy: cut and refused, a websocket is told
 * why and /healthz answers 503; let through again, both recover.
 */
const toldWhileReconnecting = (
  transport: Transport.Transport,
  target: number,
  env: (proxy: TcpProxy.TcpProxy) => Record<string, string>,
  broker: string
) =>
  Effect.gen(function*() {
    const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: target } })
    const layer = Transport.layerFor(transport).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env(proxy)))))),
      // The reconnect warnings are expected here.
      Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
    )
    const server = yield* startServer(layer)
    const healthy = yield* Effect.promise(() => fetch(`http://${server}/healthz`))
    expect(healthy.status).toBe(200)
    yield* connect(server, "lobby", "alice")

    yield* proxy.refuse(true)
    yield* proxy.cutAll
    yield* Effect.sleep("300 millis")
    const { code, frame } = yield* firstFrameAndClose(server)
    expect(code).toBe(1013)
    expect(frame.type).toBe("chat.unavailable")
    expect(frame.reason).toContain(`lost its connection to ${broker} and is reconnecting`)
    const unhealthy = yield* Effect.promise(() => fetch(`http://${server}/healthz`))
    expect(unhealthy.status).toBe(503)
    expect(yield* Effect.promise(() => unhealthy.text())).toContain("reconnecting")

    yield* proxy.refuse(false)
    yield* Effect.promise(() => fetch(`http://${server}/healthz`)).pipe(
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (response) => response.status === 200 }),
      Effect.timeout("20 seconds")
    )
    yield* connect(server, "lobby", "bob")
  })

/** Why the chat server with this environment did not start (its defect as text), or "started". */
const startupDefect = (env: Record<string, string>) =>
  spawnServer(env).pipe(
    Effect.flatMap(() => Effect.succeed("started")),
    Effect.catchAllDefect((defect) => Effect.succeed(String(defect)))
  )

describe("the chat without its broker", () => {
  it.scopedLive(
    "npm start on RabbitMQ with a missing vhost refuses to start, naming the vhost and the fix",
    () =>
      Effect.gen(function*() {
        const defect = yield* startupDefect({
          CHANNEL_LAYER: "rabbitmq",
          AMQP_URL: "amqp://guest:guest@127.0.0.1:5672/no-such-vhost"
        })
        expect(defect).toContain("the chat server cannot start")
        expect(defect).toContain("the broker refused to open the virtual host no-such-vhost")
        expect(defect).toContain("rabbitmqctl add_vhost no-such-vhost")
      }),
    60_000
  )

  it.scopedLive(
    "npm start on Redis that stays unreachable refuses to start after STARTUP_TIMEOUT, with the last error",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const defect = yield* startupDefect({
          CHANNEL_LAYER: "redis",
          REDIS_URL: `redis://127.0.0.1:${port}/0`,
          STARTUP_TIMEOUT: "1 second"
        })
        expect(defect).toContain("the chat server cannot start")
        expect(defect).toContain("Redis not reachable within 1s (STARTUP_TIMEOUT)")
        expect(defect).toContain(`ECONNREFUSED 127.0.0.1:${port}`)
      }),
    60_000
  )

  it.scopedLive(
    "while the layer reconnects, a websocket is told why and /healthz answers 503; then it works again",
    () => toldWhileReconnecting("rabbitmq", 5672, (proxy) => ({ AMQP_URL: proxy.url() }), "RabbitMQ"),
    60_000
  )

  it.scopedLive(
    "on Redis too: while the layer reconnects, a websocket is told why and /healthz answers 503; then it works again",
    () =>
      toldWhileReconnecting(
        "redis",
        6379,
        (proxy) => ({
          REDIS_URL: `redis://127.0.0.1:${proxy.port}/0`,
          REDIS_PREFIX: `chat-availability-${randomUUID()}`
        }),
        "Redis"
      ),
    60_000
  )

  it.scopedLive("the icon is served (no 404 for /favicon.ico)", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      for (const path of ["/favicon.ico", "/favicon.svg"]) {
        const response = yield* Effect.promise(() => fetch(`http://${server}${path}`))
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("image/svg+xml")
      }
    }))
})
