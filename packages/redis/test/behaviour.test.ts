/**
 * What the conformance suite does not reach: capacity enforced in Redis (sends and group sends to
 * a key nobody drains: a normal channel), the stored form of messages and groups, and metrics.
 */
import { Metrics } from "@channel-layer/core"
import { Redis } from "@channel-layer/redis"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { testPrefix, url } from "./helpers.js"

const make = (options: Redis.RedisOptions) => Effect.orDie(Redis.make({ hosts: [url], ...options }))

describe("Redis behaviour", () => {
  it.scopedLive("a normal channel's capacity is enforced in Redis: ChannelFull for sends, skipped for groups", () =>
    Effect.gen(function*() {
      const prefix = testPrefix("capacity")
      const { channelLayer: layer } = yield* make({ prefix, capacity: 2 })
      const rejected = Metric.tagged(Metrics.messagesRejectedFull, "transport", "redis")
      const before = (yield* Metric.value(rejected)).count
      yield* layer.groupAdd("workers", "stuck")
      yield* layer.send("stuck", { type: "one" })
      yield* layer.groupSend("workers", { type: "two" })
      // Full: a group send skips it (and succeeds), a direct send fails.
      yield* layer.groupSend("workers", { type: "three" })
      const full = yield* Effect.flip(layer.send("stuck", { type: "four" }))
      expect(full).toMatchObject({ _tag: "ChannelFull", channel: "stuck", capacity: 2 })
      expect((yield* Metric.value(rejected)).count - before).toBe(2)
      expect((yield* layer.receive("stuck")).type).toBe("one")
      expect((yield* layer.receive("stuck")).type).toBe("two")
      yield* layer.send("stuck", { type: "five" })
      expect((yield* layer.receive("stuck")).type).toBe("five")
    }))

  it.scopedLive("stored form: channels_redis's keys, scores and members", () =>
    Effect.gen(function*() {
      const prefix = testPrefix("wire")
      const { channelLayer: layer, connection } = yield* make({ prefix, groupExpiry: "1 hour" })
      const { channelLayer: other } = yield* make({ prefix })
      const mine = yield* layer.newChannel("websocket")
      expect(mine).toMatch(new RegExp(`^websocket\\.${connection.clientPrefix}![0-9a-f]{32}$`))
      yield* layer.groupAdd("room", mine)
      const members = (yield* connection.command(["ZRANGE", `${prefix}:group:room`, "0", "-1", "WITHSCORES"])) as Array<
        unknown
      >
      const flat = members.flat().map(String)
      expect(flat[0]).toBe(mine)
      expect(Math.abs(Number(flat[1]) - Date.now() / 1000)).toBeLessThan(5)
      const ttl = Number(yield* connection.command(["PTTL", `${prefix}:group:room`]))
      expect(ttl).toBeGreaterThan(3_500_000)
      expect(ttl).toBeLessThanOrEqual(3_600_000)

      // A normal channel's key holds what is sent to it: 12 random bytes, then msgpack.
      yield* other.send("inspect", { type: "look" })
      const stored = (yield* connection.command(["ZRANGE", `${prefix}inspect`, "0", "-1"])) as Array<Buffer>
      expect(stored).toHaveLength(1)
      const body = stored[0].subarray(12)
      // A map of one: channels_redis writes no __asgi_channel__ for a send to a normal channel.
      expect(body[0]).toBe(0x81)
      expect(body.includes(Buffer.from("__asgi_channel__"))).toBe(false)
      expect(Number(yield* connection.command(["PTTL", `${prefix}inspect`]))).toBeGreaterThan(55_000)
      expect((yield* layer.receive("inspect")).type).toBe("look")
    }))

  it.scopedLive("closing an instance removes its channels from their groups", () =>
    Effect.gen(function*() {
      const prefix = testPrefix("leave")
      const { connection } = yield* make({ prefix })
      yield* Effect.scoped(Effect.gen(function*() {
        const { channelLayer: layer } = yield* make({ prefix })
        yield* layer.groupAdd("room", yield* layer.newChannel())
        yield* layer.groupAdd("room", yield* layer.newChannel())
        expect(Number(yield* connection.command(["ZCARD", `${prefix}:group:room`]))).toBe(2)
      }))
      expect(Number(yield* connection.command(["ZCARD", `${prefix}:group:room`]))).toBe(0)
    }))
})
