// Readiness: a dedicated layer is `connecting` until the proxy answers both its sockets, and
// `awaitReady` completes once it does; an embedded layer has no broker to wait for.
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { build, captureLogs } from "./support/layers.js"
import { freePorts, tcp } from "./support/ports.js"

describe("readiness", () => {
  it.scopedLive("dedicated: connecting while the proxy is down, ready once it is up", () =>
    Effect.gen(function*() {
      const [pull, pub] = yield* Effect.promise(() => freePorts(2))
      const logs = captureLogs()
      const { layer, transport } = yield* build(
        ZeroMQ.layerDedicated({ pushAddress: tcp(pull), subscribeAddress: tcp(pub), linger: 0 }).pipe(
          Layer.provide(logs.layer)
        )
      )
      const down = yield* transport.health
      expect(down.status).toBe("connecting")
      const error = yield* Effect.flip(transport.awaitReadyWithin("300 millis"))
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.message).toContain(`no connection to the proxy at ${tcp(pull)} and ${tcp(pub)} within 300ms`)

      const ready = yield* Effect.fork(transport.awaitReady)
      yield* Layer.build(
        ZeroMQProxy.layer({ pullAddress: tcp(pull), publishAddress: tcp(pub), linger: 0 }).pipe(
          Layer.provide(logs.layer)
        )
      )
      yield* Fiber.join(ready).pipe(Effect.timeout("10 seconds"))
      const up = yield* transport.health
      expect(up.status).toBe("connected")
      expect(up.since).toBeGreaterThanOrEqual(down.since)
      yield* transport.awaitReadyWithin("10 millis")
      // And the layer works.
      const channel = yield* layer.newChannel()
      yield* layer.send(channel, { type: "t.ready" })
      expect(yield* layer.receive(channel)).toEqual({ type: "t.ready" })
    }))

  it.scopedLive("embedded: connected from the start", () =>
    Effect.gen(function*() {
      const [port] = yield* Effect.promise(() => freePorts(1))
      const { transport } = yield* build(
        ZeroMQ.layerEmbedded({ publishAddress: tcp(port), subscribeAddresses: [tcp(port)], linger: 0 })
      )
      expect((yield* transport.health).status).toBe("connected")
      yield* transport.awaitReadyWithin("10 millis")
    }))
})
