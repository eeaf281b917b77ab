/**
 * The pack test's program: written the way a user writes one, against the published packages
 * (their dist/ .d.ts and .js, resolved from node_modules of an app outside the repository). It
 * runs the same exchange on every transport and prints one line each; scripts/pack-test.sh
 * compares the output with the lines it expects.
 *
 * Usage: node program.js AMQP_URL [REDIS_URL]
 */
import { ChannelLayer, InMemory } from "@channel-layer/core"
import type { Errors, Message } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { Redis } from "@channel-layer/redis"
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { Console, Context, Effect, Layer } from "effect"
import { createServer } from "node:net"

const amqpUrl = process.argv[2] ?? "amqp://guest:guest@127.0.0.1/asgi"
const redisUrl = process.argv[3] ?? "redis://127.0.0.1:6379/0"

type Service = Context.Tag.Service<typeof ChannelLayer.ChannelLayer>

/**
 * Two layer instances (two processes, as far as the transport can tell): `b` gets a direct message
 * from `a`, both get a group message sent by `a`, and a receive on a bad name fails with its typed
 * error.
 */
const exchange = (name: string, a: Service, b: Service) =>
  Effect.gen(function*() {
    const alice = yield* a.newChannel()
    const bob = yield* b.newChannel("bob")
    yield* a.groupAdd("room-42", alice)
    yield* b.groupAdd("room-42", bob)
    yield* a.send(bob, { type: "direct.message", text: "hi bob" })
    yield* a.groupSend("room-42", {
      type: "chat.message",
      text: `hello over ${name}`,
      big: 2n ** 63n - 1n,
      bytes: new Uint8Array([1, 2, 3])
    })
    const direct: Message.Message = yield* b.receive(bob)
    const [forAlice, forBob] = yield* Effect.all([a.receive(alice), b.receive(bob)])
    const invalid = yield* a.send("not a channel name", { type: "x" }).pipe(
      Effect.as("accepted"),
      Effect.catchTag("InvalidChannelName", (error: Errors.InvalidChannelName) => Effect.succeed(error._tag))
    )
    const bytes = forBob.bytes instanceof Uint8Array ? Array.from(forBob.bytes).join(",") : "missing"
    yield* Console.log(
      `${name}: ${direct.type} "${direct.text}", ${forAlice.type} "${forAlice.text}" x2 ` +
        `(same: ${forAlice.text === forBob.text}), bigint ${String(forBob.big)}, bytes ${bytes}, ` +
        `bad name ${invalid}, prefix kept ${bob.includes("bob")}`
    )
  }).pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`${name}: timed out`) }))

/** Builds a layer twice, in the surrounding scope, and gives each instance's ChannelLayer. */
const twoInstances = <E>(layer: Layer.Layer<ChannelLayer.ChannelLayer, E>) =>
  Effect.all([Layer.build(Layer.fresh(layer)), Layer.build(Layer.fresh(layer))]).pipe(
    Effect.map(([one, two]) =>
      [Context.get(one, ChannelLayer.ChannelLayer), Context.get(two, ChannelLayer.ChannelLayer)] as const
    )
  )

const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const inMemory = Effect.gen(function*() {
  // One instance: in memory, channels live in this process only.
  const layer = yield* Layer.build(InMemory.layer({ capacity: 100, expiry: "60 seconds" }))
  const service = Context.get(layer, ChannelLayer.ChannelLayer)
  yield* exchange("in-memory", service, service)
})

const rabbitmq = Effect.gen(function*() {
  const [a, b] = yield* twoInstances(RabbitMQ.layer({ url: amqpUrl, expiry: "60 seconds" }))
  yield* exchange("rabbitmq", a, b)
})

const redis = Effect.gen(function*() {
  // A key prefix of this run's own: the server may be shared.
  const prefix = `pack-test-${Date.now().toString(36)}`
  const [a, b] = yield* twoInstances(Redis.layer({ hosts: redisUrl, prefix, expiry: "60 seconds" }))
  yield* exchange("redis", a, b)
})

const zeromq = Effect.gen(function*() {
  const pull = `tcp://127.0.0.1:${yield* freePort}`
  const publish = `tcp://127.0.0.1:${yield* freePort}`
  yield* Layer.build(ZeroMQProxy.layer({ pullAddress: pull, publishAddress: publish }))
  const [a, b] = yield* twoInstances(ZeroMQ.layerDedicated({ pushAddress: pull, subscribeAddress: publish }))
  yield* exchange("zeromq", a, b)
})

const main = Effect.all([inMemory, rabbitmq, redis, zeromq].map(Effect.scoped), { discard: true })

Effect.runPromise(main.pipe(Effect.zipRight(Console.log("pack test program: done")))).catch((error: unknown) => {
  process.exitCode = 1
  return Effect.runPromise(Console.error(error))
})
