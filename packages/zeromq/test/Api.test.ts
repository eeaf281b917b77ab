// Options, names and the API around the service: every bad option is an InvalidOptions naming it,
// channels are process-local, the Config variants build the same layers.
import { ChannelLayer, Metrics } from "@channel-layer/core"
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Either, FiberRef, HashSet, Layer, Logger, Metric, Schedule } from "effect"
import { curveKeyPair } from "zeromq"
import { build } from "./support/layers.js"
import { freePorts, tcp } from "./support/ports.js"

const keys = curveKeyPair()

describe("options", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ["publishAddress", { publishAddress: "localhost:5555" }],
    ["subscribeAddresses[1]", { subscribeAddresses: ["tcp://127.0.0.1:1", 42] }],
    ["capacity", { capacity: 0 }],
    ["channelCapacity[small.*]", { channelCapacity: { "small.*": -1 } }],
    ["expiry", { expiry: -5 }],
    ["confirmTimeout", { confirmTimeout: "soon" }],
    ["sendTimeout", { sendTimeout: -1 }],
    ["sendHighWaterMark", { sendHighWaterMark: 1.5 }],
    ["receiveHighWaterMark", { receiveHighWaterMark: 0 }],
    ["maxMessageSize", { maxMessageSize: Number.NaN }],
    ["linger", { linger: -1 }],
    ["reconnectInterval", { reconnectInterval: 0 }],
    ["heartbeatInterval", { heartbeatInterval: 0 }],
    ["settle", { settle: -1 }],
    ["curve.serverPublicKey", { curve: { serverPublicKey: "too short" } }],
    ["curve", { curve: { publicKey: keys.publicKey } }],
    ["curve.authorizedKeys", { curve: { serverPublicKey: keys.publicKey, authorizedKeys: [keys.publicKey] } }],
    ["curve.authorizedKeys[0]", { curve: { ...keys, authorizedKeys: ["nope"] } }]
  ]
  for (const [option, bad] of cases) {
    it.scopedLive(`embedded: a bad ${option} fails with InvalidOptions naming it`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          build(ZeroMQ.layerEmbedded({ publishAddress: "tcp://127.0.0.1:*", ...bad } as any))
        )
        expect(error).toMatchObject({ _tag: "InvalidOptions", option })
        expect(error.message).toMatch(/^invalid option /)
      }))
  }

  it.scopedLive("dedicated: addresses are required, CURVE needs the proxy's key, authorizedKeys belong to the proxy", () =>
    Effect.gen(function*() {
      const dedicated = (options: Record<string, unknown>) =>
        Effect.flip(build(ZeroMQ.layerDedicated({
          pushAddress: "tcp://127.0.0.1:1",
          subscribeAddress: "tcp://127.0.0.1:2",
          ...options
        } as any)))
      expect(yield* dedicated({ pushAddress: undefined })).toMatchObject({ option: "pushAddress" })
      expect(yield* dedicated({ subscribeAddress: "nope" })).toMatchObject({ option: "subscribeAddress" })
      expect(yield* dedicated({ curve: { ...keys } })).toMatchObject({ option: "curve.serverPublicKey" })
      expect(yield* dedicated({ curve: { serverPublicKey: keys.publicKey, authorizedKeys: [] } })).toMatchObject({
        option: "curve.authorizedKeys"
      })
    }))

  it.scopedLive("an address that cannot be bound fails with InvalidOptions saying why", () =>
    Effect.gen(function*() {
      const [port] = yield* Effect.promise(() => freePorts(1))
      yield* build(ZeroMQ.layerEmbedded({ publishAddress: tcp(port), linger: 0 }))
      // The PUB socket's monitor logs the failed bind too: kept, asserted, not printed.
      const lines: Array<string> = []
      const error = yield* Effect.flip(build(ZeroMQ.layerEmbedded({ publishAddress: tcp(port) }))).pipe(
        Effect.locallyWith(FiberRef.currentLoggers, (loggers) =>
          HashSet.add(
            HashSet.remove(loggers, Logger.defaultLogger),
            Logger.make(({ message }) => void lines.push(String(message)))
          ))
      )
      expect(error).toMatchObject({ _tag: "InvalidOptions", option: "publishAddress" })
      expect(error.message, error.message).toMatch(/cannot bind tcp:\/\/127\.0\.0\.1:\d+: Address already in use/)
      expect(lines.some((line) => line.includes("Address already in use"))).toBe(true)
    }), 10_000)

  it.scopedLive("the proxy validates its options too", () =>
    Effect.gen(function*() {
      const proxy = (options: Record<string, unknown>) =>
        Effect.flip(Layer.build(ZeroMQProxy.layer({
          pullAddress: "tcp://127.0.0.1:*",
          publishAddress: "tcp://127.0.0.1:*",
          ...options
        } as any)))
      expect(yield* proxy({ pullAddress: "" })).toMatchObject({ option: "pullAddress" })
      expect(yield* proxy({ holdTimeout: 0 })).toMatchObject({ option: "holdTimeout" })
      expect(yield* proxy({ curve: { secretKey: "x" } })).toMatchObject({ option: "curve.secretKey" })
    }))
})

describe("names", () => {
  it.scopedLive("channels are process-local: normal channels and other processes' channels are refused", () =>
    Effect.gen(function*() {
      const { layer, transport } = yield* build(
        ZeroMQ.layerEmbedded({ publishAddress: "tcp://127.0.0.1:*", linger: 0 })
      )
      const channel = yield* layer.newChannel("websocket.send")
      expect(channel).toMatch(new RegExp(`^websocket\\.send\\.${transport.clientId}![a-zA-Z]{12}$`))
      const normal = yield* Effect.flip(layer.send("http.request", { type: "t" }))
      expect(normal).toMatchObject({ _tag: "InvalidChannelName", channel: "http.request" })
      expect(normal.message).toMatch(/only process-local channels/)
      expect(yield* Effect.flip(layer.receive("http.request"))).toMatchObject({ _tag: "InvalidChannelName" })
      const foreign = "specific.SOMEONEelseXX!abcdefghijkl"
      expect((yield* Effect.flip(layer.receive(foreign))).message).toBe(
        `invalid channel name "${foreign}": cannot receive on: only channels made by this layer's newChannel are ` +
          "this layer's (their client id is not)"
      )
      expect((yield* Effect.flip(layer.groupAdd("room", foreign))).message).toMatch(
        /cannot add to a group: only channels/
      )
      yield* layer.groupDiscard("room", foreign) // not a member: a no-op
      expect((yield* Effect.flip(layer.newChannel("bad!prefix")))._tag).toBe("InvalidChannelName")
    }))

  it.scopedLive("maxMessageSize bounds every send, wherever the channel or the group's members live", () =>
    Effect.gen(function*() {
      const [port] = yield* Effect.promise(() => freePorts(1))
      const { layer, transport } = yield* build(
        // settle 0: a group send with no subscriber elsewhere stays in the process at once.
        ZeroMQ.layerEmbedded({ publishAddress: tcp(port), maxMessageSize: 100, linger: 0, settle: 0 })
      )
      const big = { type: "t", blob: new Uint8Array(200) }
      const own = yield* layer.newChannel()
      // Another process's channel with a name as long as our own: the same body size.
      const foreign = own.replace(`.${transport.clientId}!`, `.${"X".repeat(transport.clientId.length)}!`)
      const remote = yield* Effect.flip(layer.send(foreign, big))
      expect(remote).toMatchObject({ _tag: "MessageTooLarge", maxSize: 100 })
      // A send to a channel of this process gets the same answer, though it never leaves the process.
      expect(yield* Effect.either(layer.send(own, big))).toStrictEqual(Either.left(remote))
      // So does a group send, whether the group has only local members or none.
      yield* layer.groupAdd("local-only", own)
      const group = yield* Effect.either(layer.groupSend("local-only", big))
      expect(group).toMatchObject({ _tag: "Left", left: { _tag: "MessageTooLarge", maxSize: 100 } })
      expect(yield* Effect.either(layer.groupSend("nobody", big))).toMatchObject({
        _tag: "Left",
        left: { _tag: "MessageTooLarge" }
      })
      // Nothing was delivered, and what fits still does.
      yield* layer.send(own, { type: "small" })
      expect((yield* layer.receive(own)).type).toBe("small")
    }))
})

describe("metrics", () => {
  it.scopedLive("every send and group send that succeeds is counted once; failures are not", () =>
    Effect.gen(function*() {
      const sentCount = Metric.value(Metric.taggedWithLabels(Metrics.messagesSent, Metrics.transportLabel("zeromq")))
      const [port] = yield* Effect.promise(() => freePorts(1))
      const { layer } = yield* build(ZeroMQ.layerEmbedded({ publishAddress: tcp(port), capacity: 1, linger: 0 }))
      const own = yield* layer.newChannel()
      const before = (yield* sentCount).count
      yield* layer.send(own, { type: "t" }) // local
      yield* Effect.flip(layer.send(own, { type: "t" })) // full: not counted
      yield* layer.send("x.SOMEONEelseXX!abc", { type: "t" }) // held for another process
      yield* layer.groupSend("nobody", { type: "t" })
      yield* Effect.flip(layer.send("http.request", { type: "t" })) // refused: not counted
      expect((yield* sentCount).count).toBe(before + 3)
    }))
})

describe("layerConfig", () => {
  it.scopedLive("the embedded and dedicated layers and the proxy read their options from Config", () =>
    Effect.gen(function*() {
      const [a, b, pull, pub] = yield* Effect.promise(() => freePorts(4))
      const provider = ConfigProvider.fromJson({
        publish: tcp(a),
        peers: [tcp(b)],
        capacity: 3,
        pull: tcp(pull),
        pub: tcp(pub)
      })
      const { Config } = yield* Effect.promise(() => import("effect"))
      const embedded = ZeroMQ.layerEmbeddedConfig({
        publishAddress: Config.string("publish"),
        subscribeAddresses: Config.array(Config.string(), "peers"),
        capacity: Config.integer("capacity"),
        linger: Config.succeed(0)
      })
      const proxy = ZeroMQProxy.layerConfig({
        pullAddress: Config.string("pull"),
        publishAddress: Config.string("pub"),
        settle: Config.succeed(0)
      })
      const dedicated = ZeroMQ.layerDedicatedConfig({
        pushAddress: Config.string("pull"),
        subscribeAddress: Config.string("pub"),
        linger: Config.succeed(0)
      })
      const context = yield* Layer.build(Layer.mergeAll(embedded, proxy)).pipe(
        Effect.withConfigProvider(provider)
      )
      expect(Context.get(context, ZeroMQ.ZeroMQTransport)).toMatchObject({ mode: "embedded", publishEndpoint: tcp(a) })
      const proxyInfo = Context.get(context, ZeroMQProxy.ZeroMQProxy)
      expect(proxyInfo.pullEndpoint).toBe(tcp(pull))
      const layer = Context.get(context, ChannelLayer.ChannelLayer)
      const channel = yield* layer.newChannel()
      for (let i = 0; i < 3; i++) yield* layer.send(channel, { type: "t" })
      expect(yield* Effect.flip(layer.send(channel, { type: "t" }))).toMatchObject({ _tag: "ChannelFull", capacity: 3 })
      const client = Context.get(
        yield* Layer.build(dedicated).pipe(Effect.withConfigProvider(provider)),
        ChannelLayer.ChannelLayer
      )
      const own = yield* client.newChannel()
      yield* client.groupAdd("configured", own)
      yield* client.groupSend("configured", { type: "t.via-proxy" })
      expect(yield* client.receive(own)).toEqual({ type: "t.via-proxy" })
      // The group message reached the local member in-process; the proxy forwards its copy too.
      yield* proxyInfo.stats.pipe(
        Effect.repeat({ until: (stats) => stats.forwarded >= 1, schedule: Schedule.spaced(10) }),
        Effect.timeout(2000)
      )
      const missing = yield* Effect.flip(
        Layer.build(ZeroMQ.layerEmbeddedConfig({ publishAddress: Config.string("nowhere") })).pipe(
          Effect.withConfigProvider(provider)
        )
      )
      expect(missing._tag).toBe("ConfigError")
    }))
})
