/**
 * Connecting: refusals that waiting cannot fix fail at once with a reason a user can act on, the
 * optional confirm bound, and the debounced warning about undecodable bodies.
 */
import { Codec } from "@channel-layer/core"
import { TcpProxy } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { captureLogs, instance, rawChannel, rawConfirmChannel, scopedExchange, unique, waitFor } from "./helpers.js"

const fastRetry = Schedule.spaced("100 millis")

describe("RabbitMQ connecting", () => {
  it.scopedLive("a refused login fails at once, not after waitForConnection, and says what to check", () =>
    Effect.gen(function*() {
      const layer = yield* instance({
        url: "amqp://guest:wrong-password@127.0.0.1:5672/asgi",
        waitForConnection: "20 seconds",
        retrySchedule: fastRetry
      })
      const started = Date.now()
      const error = yield* Effect.flip(layer.layer.newChannel())
      expect(Date.now() - started).toBeLessThan(5000)
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.message).toContain("ACCESS-REFUSED")
      expect(error.message).toContain("check the user name and password")
      // Later calls fail at once too, while the broker keeps refusing.
      const again = yield* Effect.flip(layer.layer.send(`${"channels_abcdefghijkl"}!x`, { type: "x" }))
      expect(again.message).toContain("waiting will not change that")
    }))

  it.scopedLive("a virtual host that does not exist is named as the problem", () =>
    Effect.gen(function*() {
      const layer = yield* instance({
        url: "amqp://guest:guest@127.0.0.1:5672/no-such-vhost",
        retrySchedule: fastRetry
      })
      const error = yield* Effect.flip(layer.layer.newChannel())
      expect(error.message).toContain("refused to open the virtual host")
    }))

  it.scopedLive("a groups exchange declared durable by someone else is explained (the Python interop pitfall)", () =>
    Effect.gen(function*() {
      const exchange = yield* scopedExchange(unique("durable-groups"))
      const { channel } = yield* rawChannel
      yield* Effect.promise(() => channel.assertExchange(exchange, "direct", { durable: true }))
      const layer = yield* instance({ groupsExchange: exchange, retrySchedule: fastRetry })
      const error = yield* Effect.flip(layer.layer.newChannel())
      expect(error.message).toContain("PRECONDITION")
      expect(error.message).toContain(`the exchange ${exchange} exists with other properties`)
    }))

  it.scopedLive("confirmTimeout bounds the wait for a confirm: ConnectionClosed, saying it may have arrived", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: 5672 } })
      const receiver = yield* instance()
      const target = yield* receiver.layer.newChannel()
      const sender = yield* instance({ url: proxy.url(), heartbeat: 0, confirmTimeout: "400 millis" })
      yield* sender.layer.send(target, { type: "before" })
      expect(yield* receiver.layer.receive(target)).toEqual({ type: "before" })
      yield* proxy.blackhole(true)
      const started = Date.now()
      const error = yield* Effect.flip(sender.layer.send(target, { type: "into the void" }))
      expect(Date.now() - started).toBeLessThan(3000)
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.message).toContain("confirmTimeout (400 ms)")
      expect(error.message).toContain("may or may not be delivered")
      yield* proxy.blackhole(false)
    }))

  it.scopedLive("undecodable bodies: a burst is counted and logged in one line naming each, the consumer goes on", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const receiver = yield* instance()
      const channel = yield* receiver.layer.newChannel()
      const queue = yield* receiver.connection.queue
      const raw = yield* rawConfirmChannel
      yield* Effect.promise(async () => {
        for (let i = 0; i < 7; i++) raw.channel.sendToQueue(queue, Buffer.from([0xc1, i]))
        raw.channel.sendToQueue(queue, Buffer.from(Codec.encode({ type: "valid" }, { channel })))
        await raw.channel.waitForConfirms()
      })
      expect(yield* receiver.layer.receive(channel)).toEqual({ type: "valid" })
      const skipped = () => logs.filter((l) => l.message.startsWith("skipped"))
      yield* waitFor("the skipped bodies' warning", () => skipped().length === 1, "5 seconds")
      expect(skipped()[0].level).toBe("WARN")
      expect(skipped()[0].message).toMatch(
        new RegExp(`^skipped 7 message\\(s\\) that this layer cannot deliver: in ${queue}: `)
      )
      expect(skipped()[0].message).toContain("(body c100)")
      expect(skipped()[0].message).toContain("and 2 more")
    }))
})
