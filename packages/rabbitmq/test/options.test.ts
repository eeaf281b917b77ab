/**
 * Options: every invalid value is an InvalidOptions naming the option; `layerConfig` reads them
 * from Effect Config; URL lists and host names with several addresses are tried in turn.
 */
import { ChannelLayer, Codec } from "@channel-layer/core"
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Fiber, Layer, Redacted, Schedule, Stream } from "effect"
import * as Endpoints from "../src/internal/endpoints.js"
import { randomQueueName } from "../src/internal/topology.js"
import { captureLogs, instance, rawConfirmChannel, url } from "./helpers.js"

const invalid: ReadonlyArray<readonly [string, RabbitMQ.RabbitMQOptions]> = [
  ["url", { url: "http://127.0.0.1/asgi" }],
  ["url", { url: "not a url" }],
  ["url", { url: [] }],
  ["url[1]", { url: [url, "amqp://"] }],
  ["url", { url: "amqp://127.0.0.1/asgi?heartbeat=soon" }],
  ["expiry", { expiry: 0 }],
  ["expiry", { expiry: "0.5 millis" }],
  ["expiry", { expiry: "forever" as never }],
  ["localCapacity", { localCapacity: 0 }],
  ["localCapacity", { localCapacity: 1.5 }],
  ["localCapacity", { localCapacity: 70_000 }],
  ["localExpiry", { localExpiry: -1 }],
  ["remoteCapacity", { remoteCapacity: 0 }],
  ["remoteCapacity", { remoteCapacity: 2 ** 31 }],
  ["groupsExchange", { groupsExchange: "" }],
  ["groupsExchange", { groupsExchange: "has space" }],
  ["groupsExchange", { groupsExchange: "amq.direct" }],
  ["connectTimeout", { connectTimeout: 0 }],
  ["waitForConnection", { waitForConnection: -5 }],
  ["heartbeat", { heartbeat: "1500 millis" }],
  ["heartbeat", { heartbeat: "100000 seconds" }],
  ["heartbeat", { heartbeat: 2 }],
  ["queueType", { queueType: "stream" as never }],
  ["queueExpiry", { queueExpiry: "500 millis" }],
  ["queueExpiry", { queueExpiry: "30 days" }],
  ["retrySchedule", { retrySchedule: "often" as never }],
  ["maxMessageSize", { maxMessageSize: 0 }],
  ["tls", { tls: { ca: "pem" } }],
  ["tls.cert", { url: "amqps://127.0.0.1/asgi", tls: { key: "pem" } }],
  ["tls.ca", { url: "amqps://127.0.0.1/asgi", tls: { ca: 42 as never } }],
  ["tls.rejectUnauthorized", { url: "amqps://127.0.0.1/asgi", tls: { rejectUnauthorized: "no" as never } }]
]

describe("RabbitMQ options", () => {
  for (const [option, options] of invalid) {
    it.scoped(`${option}: ${JSON.stringify(options, (_, v) => typeof v === "bigint" ? String(v) : v)}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(RabbitMQ.make(options))
        expect(error._tag).toBe("InvalidOptions")
        expect(error.option).toBe(option)
        expect(error.reason.length).toBeGreaterThan(10)
      }))
  }

  it.scoped("heartbeat: a plain number counts milliseconds, as for every duration option, and the error says so", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RabbitMQ.make({ heartbeat: 2 }))
      expect(error.message).toBe(
        "invalid option heartbeat: must be a whole number of seconds from 1 to 65535, or 0 to turn heartbeats off " +
          "(a plain number counts milliseconds: write \"2 seconds\" or 2000 for 2 s), got 2ms"
      )
      yield* RabbitMQ.make({ heartbeat: 2000 })
      yield* RabbitMQ.make({ heartbeat: "2 seconds" })
      yield* RabbitMQ.make({ heartbeat: 0 })
    }))

  it.effect("the layer fails to build with InvalidOptions, before any connection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RabbitMQ.layer({ localCapacity: -1 })).pipe(Effect.scoped))
      expect(error).toMatchObject({ _tag: "InvalidOptions", option: "localCapacity" })
      expect(error.message).toContain("positive integer")
    }))

  it("parses URLs like amqplib and the Python layer: defaults, vhost, credentials, query", () => {
    const parse = (raw: string) => Endpoints.parse(raw, "url")
    expect(parse("amqp://127.0.0.1")).toMatchObject({
      _tag: "Right",
      right: { protocol: "amqp", port: 5672, username: "guest", password: "guest", vhost: "/" }
    })
    expect(parse("amqps://u%40x:p%2Fw@broker.example/my%2Fvhost?heartbeat=5&frameMax=8192")).toMatchObject({
      _tag: "Right",
      right: {
        protocol: "amqps",
        hostname: "broker.example",
        port: 5671,
        username: "u@x",
        password: "p/w",
        vhost: "my%2Fvhost",
        heartbeat: 5,
        frameMax: 8192,
        display: "amqps://u%40x:***@broker.example:5671/my%2Fvhost"
      }
    })
    expect(parse("amqp://[::1]:5673/asgi")).toMatchObject({ right: { hostname: "::1", port: 5673 } })
  })

  it.scopedLive("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([["AMQP_URL", url], ["REMOTE_CAPACITY", "7"], ["EXCHANGE", "groups"]])
      )
      const context = yield* Layer.build(
        RabbitMQ.layerConfig({
          url: Config.redacted("AMQP_URL"),
          remoteCapacity: Config.integer("REMOTE_CAPACITY"),
          groupsExchange: Config.string("EXCHANGE"),
          expiry: Config.succeed("30 seconds")
        }).pipe(Layer.provide(Layer.setConfigProvider(provider)))
      )
      const layer = context.unsafeMap.get(ChannelLayer.ChannelLayer.key) as ChannelLayer.ChannelLayerService
      const connection = context.unsafeMap.get(
        RabbitMQConnection.RabbitMQConnection.key
      ) as RabbitMQConnection.RabbitMQConnectionService
      const channel = yield* layer.newChannel()
      yield* layer.send(channel, { type: "configured" })
      expect(yield* layer.receive(channel)).toEqual({ type: "configured" })
      expect(channel.startsWith(`${yield* connection.queue}!`)).toBe(true)
    }))

  it.effect("layerConfig fails with the ConfigError of a missing setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(RabbitMQ.layerConfig({ url: Config.string("NOT_SET_ANYWHERE") })).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      expect(error._tag).not.toBe("InvalidOptions")
      expect(String(error)).toContain("NOT_SET_ANYWHERE")
    }))

  it.scopedLive("a list of URLs is tried in order; a Redacted URL works", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const layer = yield* instance({ url: ["amqp://guest:guest@127.0.0.1:1/asgi", Redacted.make(url)] })
      const channel = yield* layer.layer.newChannel()
      yield* layer.layer.send(channel, { type: "second url" })
      expect(yield* layer.layer.receive(channel)).toEqual({ type: "second url" })
      // The first URL refused, the second answered within the same attempt: no failure logged.
      expect(logs.filter((l) => l.message.startsWith("cannot connect"))).toEqual([])
    }))

  it.scopedLive("every address of a host name is tried in turn", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const layer = yield* instance(
        { url: "amqp://guest:guest@broker.test:5672/asgi" },
        {
          lookup: async (hostname) => {
            asked.push(hostname)
            // Nothing listens on 127.0.0.2: that address refuses, the next one is the broker.
            return [{ address: "127.0.0.2" }, { address: "127.0.0.1" }]
          }
        }
      )
      const channel = yield* layer.layer.newChannel()
      expect(asked).toEqual(["broker.test"])
      yield* layer.layer.send(channel, { type: "second address" })
      expect(yield* layer.layer.receive(channel)).toEqual({ type: "second address" })
    }))

  it.scopedLive("no broker at all: ConnectionClosed after waitForConnection, naming every address and why", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const layer = yield* instance({
        url: ["amqp://guest:guest@127.0.0.1:1/asgi", "amqp://guest:guest@no-such-host.invalid/asgi"],
        waitForConnection: "700 millis",
        retrySchedule: Schedule.spaced("100 millis")
      })
      const error = yield* Effect.flip(layer.layer.newChannel())
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.message).toContain("within waitForConnection (700 ms)")
      expect(error.message).toContain("127.0.0.1:1")
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).toContain("cannot resolve no-such-host.invalid")
      expect(logs.some((l) => l.level === "WARN" && l.message.startsWith("cannot connect to RabbitMQ (attempt 1)")))
        .toBe(true)
    }))

  it.scopedLive("receive alone starts the connection, and gets what is sent to the channel", () =>
    Effect.gen(function*() {
      const queue = randomQueueName()
      const layer = yield* instance({}, { queueName: () => queue })
      const channel = `${queue}!waiting`
      const pending = yield* Effect.fork(layer.layer.receive(channel))
      // Nothing but the receive has run; the queue appears once the layer is connected.
      const models = yield* layer.connection.connections.pipe(Stream.take(1), Stream.runCollect)
      expect(models.length).toBe(1)
      const raw = yield* rawConfirmChannel
      yield* Effect.promise(() => {
        raw.channel.sendToQueue(queue, Buffer.from(Codec.encode({ type: "hello" }, { channel })))
        return raw.channel.waitForConfirms()
      })
      expect(yield* Fiber.join(pending)).toEqual({ type: "hello" })
    }))
})
