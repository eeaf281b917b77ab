/**
 * Readiness: `awaitReady` completes once the first connection is up, `awaitReadyWithin` fails
 * with the last error, and `health` says where the connection stands and why.
 */
import { TcpProxy } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Scope } from "effect"
import { captureLogs, instance, waitFor } from "./helpers.js"

const fastRetry = Schedule.spaced("100 millis")

describe("RabbitMQ readiness", () => {
  it.scopedLive("not ready while the broker refuses connections, ready once it accepts them; health follows", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: 5672 } })
      yield* proxy.refuse(true)
      const { connection } = yield* instance({ url: proxy.url(), retrySchedule: fastRetry, heartbeat: 0 })
      const idle = yield* connection.health
      expect(idle.status).toBe("idle")
      expect(idle.lastError).toBeUndefined()

      const early = yield* Effect.flip(connection.awaitReadyWithin("1 second"))
      expect(early._tag).toBe("ConnectionClosed")
      expect(early.message).toContain("no connection to RabbitMQ within 1s; last error:")
      const connecting = yield* connection.health
      expect(connecting.status).toBe("connecting")
      expect(connecting.lastError).toContain(`127.0.0.1:${proxy.port}`)

      const ready = yield* Effect.fork(connection.awaitReady)
      yield* Effect.sleep("300 millis")
      expect(ready.unsafePoll()).toBeNull()
      yield* proxy.refuse(false)
      yield* Fiber.join(ready)
      const connected = yield* connection.health
      expect(connected.status).toBe("connected")
      expect(connected.since).toBeGreaterThan(connecting.since)
      // Ready now: both complete at once.
      yield* connection.awaitReady
      yield* connection.awaitReadyWithin("10 millis")

      // A lost connection: connecting again, the reason kept, then connected again.
      yield* proxy.cutAll
      let lost = connected
      yield* waitFor("health to leave connected", () => {
        lost = Effect.runSync(connection.health)
        return lost.status !== "connected"
      })
      expect(lost.status).toBe("connecting")
      expect(lost.lastError).toBeDefined()
      yield* connection.awaitReadyWithin("10 seconds")
      expect((yield* connection.health).status).toBe("connected")

      const warnings = logs.filter((line) => line.level === "WARN").map((line) => line.message)
      expect(warnings.some((line) => line.startsWith("cannot connect to RabbitMQ (attempt 1)"))).toBe(true)
      expect(warnings.some((line) => line.startsWith("lost the connection to RabbitMQ"))).toBe(true)
    }))

  it.scopedLive("a virtual host the broker refuses: awaitReadyWithin fails at once, health says why and how to fix it", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const { connection } = yield* instance({
        url: "amqp://guest:guest@127.0.0.1:5672/no-such-vhost",
        retrySchedule: fastRetry
      })
      const started = Date.now()
      const error = yield* Effect.flip(connection.awaitReadyWithin("20 seconds"))
      expect(Date.now() - started).toBeLessThan(5000)
      expect(error.message).toContain("waiting will not change that")
      expect(error.message).toContain("the broker refused to open the virtual host no-such-vhost")
      expect(error.message).toContain("rabbitmqctl add_vhost no-such-vhost")
      const health = yield* connection.health
      expect(health.status).toBe("failed")
      expect(health.lastError).toContain("refused to open the virtual host no-such-vhost")
      expect(health.lastError).toContain("guest has no permission")
      expect(logs.some((line) => line.level === "WARN" && line.message.includes("no-such-vhost"))).toBe(true)
    }))

  it.live("closing the layer: health is closed and awaitReady fails with LayerClosed", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const proxy = yield* Scope.extend(TcpProxy.make({ target: { host: "127.0.0.1", port: 5672 } }), scope)
      yield* proxy.refuse(true)
      yield* Scope.extend(captureLogs(), scope)
      const { connection } = yield* Scope.extend(
        instance({ url: proxy.url(), retrySchedule: fastRetry }),
        scope
      )
      const waiting = yield* Effect.fork(connection.awaitReady)
      yield* Effect.sleep("200 millis")
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiting)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("LayerClosed")
      expect((yield* connection.health).status).toBe("closed")
    }))
})
