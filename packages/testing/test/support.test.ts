/**
 * Proves the test-support utilities against real brokers: the shared test broker on
 * 127.0.0.1:5672 (vhost `asgi`) and extra nodes started by the tests themselves.
 * Everything goes through raw amqplib so these tests do not depend on the transport.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import type { ChannelModel, Options } from "amqplib"
import amqp from "amqplib"
import { Context, Effect, Layer } from "effect"
import * as net from "node:net"
import { withLiveClock } from "../src/internal.js"
import * as Rabbitmqctl from "../src/Rabbitmqctl.js"
import * as RabbitNode from "../src/RabbitNode.js"
import * as TcpProxy from "../src/TcpProxy.js"
import * as TlsBroker from "../src/TlsBroker.js"

const broker = { host: "127.0.0.1", port: 5672 }
const sharedUrl = "amqp://guest:guest@127.0.0.1:5672/asgi"

/** What happened to a connection: the errors it emitted and, once closed, the close event. */
interface Watched {
  readonly connection: ChannelModel
  readonly errors: Array<Error>
  readonly closed: Promise<Error | undefined>
}

const watch = (connection: ChannelModel): Watched => {
  const errors: Array<Error> = []
  connection.on("error", (error: Error) => errors.push(error))
  const closed = new Promise<Error | undefined>((resolve) =>
    connection.once("close", (error?: Error) => resolve(error))
  )
  return { connection, errors, closed }
}

/** An amqplib connection closed with the scope (quietly, if it is already gone). */
const connect = (url: string, socketOptions: amqp.SocketOptions = {}) =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => amqp.connect(url, socketOptions), catch: (error) => error as Error }).pipe(
      Effect.map(watch)
    ),
    ({ connection }) => Effect.promise(() => connection.close().catch(() => undefined))
  )

/** The error an amqplib connect fails with (the test fails if it connects). */
const connectError = (url: string, socketOptions: amqp.SocketOptions = {}) =>
  Effect.tryPromise({ try: () => amqp.connect(url, socketOptions), catch: (error) => error as NodeJS.ErrnoException })
    .pipe(
      Effect.tap((connection) => Effect.promise(() => connection.close().catch(() => undefined))),
      Effect.flip
    )

/** Declares a server-named exclusive queue: proves the connection really talks AMQP. */
const roundTrip = (connection: ChannelModel, args?: Options.AssertQueue) =>
  Effect.promise(async () => {
    const channel = await connection.createChannel()
    const reply = await channel.assertQueue("", { exclusive: true, ...args })
    await channel.close()
    return reply.queue
  })

/** Waits for a promise on the wall clock (the tests run under the TestClock). */
const within = <A>(promise: Promise<A>, millis: number, what: string) =>
  Effect.promise(() => promise).pipe(
    Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`${what}: nothing after ${millis} ms`) }),
    withLiveClock
  )

const isListening = (port: number) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
  )

describe("TcpProxy", () => {
  it.scoped("forwards an AMQP connection and counts it", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: broker })
      expect(proxy.url()).toBe(`amqp://guest:guest@127.0.0.1:${proxy.port}/asgi`)
      expect(proxy.url("/")).toBe(`amqp://guest:guest@127.0.0.1:${proxy.port}/%2F`)
      const { connection } = yield* connect(proxy.url())
      expect(yield* roundTrip(connection)).toMatch(/^amq\.gen-/)
      expect(yield* proxy.connectionsAccepted).toBe(1)
      expect(yield* proxy.activeConnections).toBe(1)
    }))

  it.scoped("cutAll makes amqplib emit error and close; a new connection then works", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: broker })
      const first = yield* connect(proxy.url())
      yield* roundTrip(first.connection)
      expect(yield* proxy.cutAll).toBe(1)
      const closeError = yield* within(first.closed, 5_000, "close event after cutAll")
      console.log(
        "amqplib after cutAll: close =",
        closeError?.message,
        "; errors =",
        first.errors.map((e) => e.message)
      )
      expect(closeError).toBeInstanceOf(Error)
      expect(first.errors.length).toBeGreaterThan(0)
      expect(yield* proxy.awaitActive((n) => n === 0)).toBe(0)

      const second = yield* connect(proxy.url())
      expect(yield* roundTrip(second.connection)).toMatch(/^amq\.gen-/)
      expect(yield* proxy.connectionsAccepted).toBe(2)
      expect(yield* proxy.activeConnections).toBe(1)
    }))

  it.scoped("refuse makes connects fail until it is turned off, without touching live connections", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: broker })
      const live = yield* connect(proxy.url())
      yield* proxy.refuse(true)
      const error = yield* connectError(proxy.url())
      console.log("amqplib connect while refusing:", error.code, error.message)
      expect(error).toBeInstanceOf(Error)
      expect(yield* proxy.connectionsRefused).toBe(1)
      expect(yield* roundTrip(live.connection)).toMatch(/^amq\.gen-/)

      yield* proxy.refuse(false)
      const again = yield* connect(proxy.url())
      expect(yield* roundTrip(again.connection)).toMatch(/^amq\.gen-/)
      expect(yield* proxy.activeConnections).toBe(2)
    }))

  it.scoped("blackhole stalls traffic without closing anything", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: broker })
      const live = yield* connect(proxy.url())
      yield* proxy.blackhole(true)
      const stalled = yield* within(live.connection.createChannel(), 500, "createChannel").pipe(Effect.flip)
      expect(stalled.message).toContain("nothing after 500 ms")
      expect(yield* proxy.activeConnections).toBe(1)
      expect(live.errors).toEqual([])

      // A new connection gets its TCP connection but not even the broker's first frame.
      const opening = amqp.connect(proxy.url())
      opening.catch(() => undefined)
      yield* within(opening, 500, "connect").pipe(Effect.flip)
      expect(yield* proxy.activeConnections).toBe(2)

      // The stalled connections carry a corrupt stream now: cut them, then traffic flows again.
      yield* proxy.blackhole(false)
      expect(yield* proxy.cutAll).toBe(2)
      const fresh = yield* connect(proxy.url())
      expect(yield* roundTrip(fresh.connection)).toMatch(/^amq\.gen-/)
    }))

  it.scoped("closing the scope closes the server and every socket", () =>
    Effect.gen(function*() {
      const { port, watched } = yield* Effect.scoped(
        Effect.gen(function*() {
          const proxy = yield* TcpProxy.make({ target: broker })
          const opened = yield* Effect.tryPromise(() => amqp.connect(proxy.url()))
          return { port: proxy.port, watched: watch(opened) }
        })
      )
      yield* within(watched.closed, 5_000, "close event after the proxy's scope closed")
      expect(yield* isListening(port)).toBe(false)
    }))
})

describe("Rabbitmqctl", () => {
  it.scoped("reports a queue's arguments, an exchange and a binding", () =>
    Effect.gen(function*() {
      const { connection } = yield* connect(sharedUrl)
      const suffix = RabbitNode.randomSuffix()
      const queue = `support_test_${suffix}`
      const exchange = `support_test_groups_${suffix}`
      const channel = yield* Effect.promise(() => connection.createChannel())
      yield* Effect.promise(async () => {
        await channel.assertQueue(queue, {
          exclusive: true,
          durable: false,
          arguments: { "x-max-length": 100, "x-overflow": "reject-publish", "x-message-ttl": 60_000 }
        })
        await channel.assertExchange(exchange, "direct", { durable: false, autoDelete: false })
        await channel.bindQueue(queue, exchange, "room-1")
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => channel.deleteExchange(exchange).catch(() => undefined)))

      const queues = yield* Rabbitmqctl.listQueues("asgi")
      const info = queues.find((q) => q.name === queue)
      expect(info).toBeDefined()
      expect(info!.arguments.values).toEqual({
        "x-max-length": 100,
        "x-overflow": "reject-publish",
        "x-message-ttl": 60_000
      })
      console.log("queue argument types as amqplib sent them:", info!.arguments.types)
      expect(info!).toMatchObject({ exclusive: true, durable: false, autoDelete: false, messages: 0, consumers: 0 })

      const exchanges = yield* Rabbitmqctl.listExchanges("asgi")
      expect(exchanges.find((x) => x.name === exchange)).toMatchObject({
        type: "direct",
        durable: false,
        autoDelete: false,
        internal: false
      })
      expect(exchanges.find((x) => x.name === "")?.type).toBe("direct")

      const bindings = yield* Rabbitmqctl.listBindings("asgi")
      expect(bindings.filter((b) => b.destination === queue).map((b) => [b.source, b.routingKey]).sort()).toEqual([
        ["", queue],
        [exchange, "room-1"]
      ])
    }))

  it.scoped("fails with a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Rabbitmqctl.run(["no_such_command"]).pipe(Effect.flip)
      expect(error._tag).toBe("RabbitmqctlError")
      expect(error.reason).toBe("Exit")
      expect(error.exitCode).not.toBe(0)
      const missing = yield* Rabbitmqctl.listQueues("asgi", { command: "/nonexistent/rabbitmqctl" }).pipe(Effect.flip)
      expect(missing.reason).toBe("Spawn")
    }))
})

describe("RabbitNode.startNode", () => {
  it.scoped(
    "starts a second node that can be stopped, killed and started again on the same port",
    () =>
      Effect.gen(function*() {
        const started = Date.now()
        const node = yield* RabbitNode.startNode()
        console.log(`plain node ${node.nodeName} up in ${Date.now() - started} ms on port ${node.port}`)
        expect(node.port).not.toBe(5672)

        const first = yield* connect(node.url())
        yield* roundTrip(first.connection)
        const connections = yield* Rabbitmqctl.listConnections(node.ctl)
        expect(connections.map((c) => c.vhost)).toEqual(["asgi"])

        yield* Rabbitmqctl.closeAllConnections("support test says bye", node.ctl)
        const forced = yield* within(first.closed, 5_000, "close after close_all_connections")
        console.log("amqplib after close_all_connections:", forced?.message)
        expect(forced?.message).toContain("CONNECTION_FORCED")
        expect(forced?.message).toContain("support test says bye")

        const live = yield* connect(node.url())
        let stopping = Date.now()
        yield* node.stop
        console.log(`graceful stop took ${Date.now() - stopping} ms`)
        expect(yield* node.isRunning).toBe(false)
        yield* within(live.closed, 5_000, "close after the node stopped")
        const down = yield* connectError(node.url())
        console.log("amqplib connect to the stopped node:", down.code, down.message)
        expect(down.code).toBe("ECONNREFUSED")

        stopping = Date.now()
        yield* node.start
        console.log(`restart took ${Date.now() - stopping} ms`)
        const again = yield* connect(node.url())
        yield* roundTrip(again.connection)

        yield* node.kill
        expect(yield* node.isRunning).toBe(false)
        yield* within(again.closed, 5_000, "close after the node was killed")
        yield* node.start
        const afterCrash = yield* connect(node.url())
        yield* roundTrip(afterCrash.connection)
      }),
    { timeout: 60_000 }
  )
})

class Tls extends Context.Tag("support.test/Tls")<Tls, TlsBroker.TlsBroker>() {}

const TlsLive = Layer.scoped(
  Tls,
  Effect.suspend(() => {
    const started = Date.now()
    return TlsBroker.make().pipe(Effect.tap(() => console.log(`TLS node up in ${Date.now() - started} ms`)))
  })
)

layer(TlsLive, { timeout: 60_000 })("TlsBroker", (it) => {
  it.effect("serves amqps with verify_peer to a client with the CA and a client certificate", () =>
    Effect.scoped(Effect.gen(function*() {
      const tls = yield* Tls
      expect(tls.url).toBe(`amqps://guest:guest@localhost:${tls.port}/asgi`)
      expect(tls.ca.toString()).toContain("BEGIN CERTIFICATE")
      expect(tls.key.toString()).toContain("PRIVATE KEY")
      const { connection } = yield* connect(tls.url, { ca: [tls.ca], cert: tls.cert, key: tls.key })
      const queue = yield* roundTrip(connection, { arguments: { "x-max-length": 7 } })
      const queues = yield* Rabbitmqctl.listQueues("asgi", tls.node.ctl)
      expect(queues.find((q) => q.name === queue)?.arguments.values).toEqual({ "x-max-length": 7 })
    })))

  it.effect("rejects a client without a certificate", () =>
    Effect.gen(function*() {
      const tls = yield* Tls
      const error = yield* connectError(tls.url, { ca: [tls.ca] })
      console.log("amqplib without a client certificate:", error.code, error.message)
      expect(error.code).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
    }))

  it.effect("rejects a client that does not trust the CA", () =>
    Effect.gen(function*() {
      const tls = yield* Tls
      const error = yield* connectError(tls.url, { cert: tls.cert, key: tls.key })
      expect(error.code).toBe("SELF_SIGNED_CERT_IN_CHAIN")
    }))

  it.effect("has no plain listener", () =>
    Effect.gen(function*() {
      const tls = yield* Tls
      const error = yield* connectError(`amqp://guest:guest@127.0.0.1:${tls.port}/asgi`, { timeout: 5_000 })
      console.log("amqplib speaking plain AMQP to the TLS port:", error.code, error.message)
      expect(error).toBeInstanceOf(Error)
    }))
})
