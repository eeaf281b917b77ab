import { ChannelLayer, InMemory } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { connect, freePort, said, spawnServer, startServer } from "./support.js"

describe("chat on the in-memory layer", () => {
  it.scopedLive("two clients in one room exchange messages; another room hears nothing", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const alice = yield* connect(server, "lobby", "alice")
      const bob = yield* connect(server, "lobby", "bob")
      const carol = yield* connect(server, "kitchen", "carol")

      yield* alice.waitFor((frame) => frame.type === "chat.join" && frame.user === "bob")
      yield* alice.say("hello bob")
      const heard = yield* bob.waitFor(said("hello bob"))
      expect(heard).toMatchObject({ type: "chat.message", room: "lobby", user: "alice", server })
      yield* alice.waitFor(said("hello bob"))

      yield* bob.say("hi alice")
      yield* alice.waitFor(said("hi alice"))

      yield* carol.say("anyone in the kitchen?")
      yield* carol.waitFor(said("anyone in the kitchen?"))
      expect(alice.frames.some((frame) => frame.user === "carol")).toBe(false)
      expect(bob.frames.some((frame) => frame.user === "carol")).toBe(false)
    }))

  it.scopedLive("a client that leaves is announced, and a bad frame gets an error back", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const alice = yield* connect(server, "lobby", "alice")
      yield* Effect.scoped(Effect.gen(function*() {
        const bob = yield* connect(server, "lobby", "bob")
        yield* bob.say("") // an empty line is refused
        yield* bob.waitFor((frame) => frame.type === "chat.error")
      }))
      yield* alice.waitFor((frame) => frame.type === "chat.leave" && frame.user === "bob")
    }))

  it.scopedLive("a bad room name is refused with 400", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const response = yield* Effect.promise(() =>
        fetch(`http://${server}/ws?room=no%20spaces&name=x`, { headers: { connection: "close" } })
      )
      expect(response.status).toBe(400)
      const page = yield* Effect.promise(() => fetch(`http://${server}/`, { headers: { connection: "close" } }))
      expect(page.status).toBe(200)
      expect(yield* Effect.promise(() => page.text())).toContain("channel-layer chat")
    }))
})

describe("npm start (src/main.ts)", () => {
  it.scopedLive("serves the chat and shuts down gracefully on SIGTERM: sockets closed, exit code 0", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer({ CHANNEL_LAYER: "memory" })
      expect(server.output()).toContain("channel layer: memory")
      expect(server.output()).toContain(`Listening on http://${server.address}`)

      const alice = yield* connect(server.address, "lobby", "alice")
      yield* alice.say("still here")
      yield* alice.waitFor(said("still here"))

      server.kill("SIGTERM")
      const code = yield* Effect.promise(() => server.exited).pipe(Effect.timeout("10 seconds"))
      expect(code).toBe(0)
      yield* Effect.promise(() => alice.closed).pipe(Effect.timeout("5 seconds"))
      expect(server.output()).toContain("left")
      expect(server.output()).toContain("shut down")
    }))
})

/** Two servers on two layer instances: clients on each share a room, and only that room. */
const twoServersShareARoom = (
  layerOne: Layer.Layer<ChannelLayer.ChannelLayer, unknown>,
  layerTwo: Layer.Layer<ChannelLayer.ChannelLayer, unknown>
) =>
  Effect.gen(function*() {
    const room = `room-${Math.random().toString(36).slice(2, 10)}`
    const one = yield* startServer(layerOne)
    const two = yield* startServer(layerTwo)
    expect(one).not.toBe(two)
    const alice = yield* connect(one, room, "alice")
    const bob = yield* connect(two, room, "bob")
    yield* alice.waitFor((frame) => frame.type === "chat.join" && frame.user === "bob" && frame.server === two)

    yield* alice.say("hello from server one")
    const heard = yield* bob.waitFor(said("hello from server one"))
    expect(heard).toMatchObject({ user: "alice", server: one })
    yield* bob.say("and back from server two")
    yield* alice.waitFor(said("and back from server two"))

    const stranger = yield* connect(two, `${room}-other`, "carol")
    yield* stranger.say("not for you")
    yield* stranger.waitFor(said("not for you"))
    expect(alice.frames.some((frame) => frame.user === "carol")).toBe(false)

    yield* Effect.scoped(Effect.gen(function*() {
      const dave = yield* connect(two, room, "dave")
      yield* alice.waitFor((frame) => frame.type === "chat.join" && frame.user === "dave")
      void dave
    }))
    yield* alice.waitFor((frame) => frame.type === "chat.leave" && frame.user === "dave")
  })

/** Waits until a group message from `from` reaches a member on `to`. */
const linked = (from: ChannelLayer.ChannelLayerService, to: ChannelLayer.ChannelLayerService) =>
  Effect.gen(function*() {
    const probe = yield* to.newChannel("probe")
    const group = `probe-${Math.random().toString(36).slice(2, 10)}`
    yield* to.groupAdd(group, probe)
    yield* from.groupSend(group, { type: "probe" }).pipe(
      Effect.zipRight(to.receive(probe).pipe(Effect.timeout("200 millis"))),
      Effect.retry({ times: 50 })
    )
    yield* to.groupDiscard(group, probe)
  })

describe("two chat servers sharing rooms", () => {
  it.scopedLive("through RabbitMQ", () => twoServersShareARoom(RabbitMQ.layer(), RabbitMQ.layer()), 60_000)

  it.scopedLive(
    "through ZeroMQ, embedded (each server binds a PUB socket and subscribes to both)",
    () =>
      Effect.gen(function*() {
        const addresses = [`tcp://127.0.0.1:${yield* freePort}`, `tcp://127.0.0.1:${yield* freePort}`]
        const one = yield* Layer.build(
          ZeroMQ.layerEmbedded({ publishAddress: addresses[0]!, subscribeAddresses: addresses })
        )
        const two = yield* Layer.build(
          ZeroMQ.layerEmbedded({ publishAddress: addresses[1]!, subscribeAddresses: addresses })
        )
        // The embedded mode's documented window: a SUB socket reaches a PUB socket bound after it only
        // once it reconnects (100 ms), and group messages published before that are not seen. Servers
        // start before their users do; the test waits for both links the same way.
        yield* linked(Context.get(one, ChannelLayer.ChannelLayer), Context.get(two, ChannelLayer.ChannelLayer))
        yield* linked(Context.get(two, ChannelLayer.ChannelLayer), Context.get(one, ChannelLayer.ChannelLayer))
        yield* twoServersShareARoom(Layer.succeedContext(one), Layer.succeedContext(two))
      }),
    60_000
  )

  it.scopedLive(
    "through ZeroMQ, dedicated (both servers push to a proxy and subscribe to it)",
    () =>
      Effect.gen(function*() {
        const pullAddress = `tcp://127.0.0.1:${yield* freePort}`
        const publishAddress = `tcp://127.0.0.1:${yield* freePort}`
        yield* Layer.build(ZeroMQProxy.layer({ pullAddress, publishAddress }))
        const client = () => ZeroMQ.layerDedicated({ pushAddress: pullAddress, subscribeAddress: publishAddress })
        yield* twoServersShareARoom(client(), client())
      }),
    60_000
  )
})
