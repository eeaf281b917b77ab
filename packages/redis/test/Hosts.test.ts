import { Redis } from "@channel-layer/redis"
import { Ports } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { groupShardIndex } from "../src/internal/Sharding.js"
import { testPrefix, url } from "./helpers.js"

describe("Redis, several hosts, one of them down", () => {
  it.scopedLive(
    "what needs the live host works; what needs the dead one fails after waitForConnection",
    () =>
      Effect.gen(function*() {
        // A local port nothing listens on.
        const [port] = yield* Ports.free(1)
        const live = url.replace(/\/\d*$/, "") + "/1"
        const hosts = [live, `redis://127.0.0.1:${port}/0`]
        const prefix = testPrefix("hosts")
        const layer = (yield* Redis.make({ hosts, prefix, waitForConnection: "300 millis" })).channelLayer
        const sender = (yield* Redis.make({ hosts: [live], prefix })).channelLayer

        // Our own channels: local, and read on every host that answers.
        const mine = yield* layer.newChannel()
        yield* layer.send(mine, { type: "local" })
        expect(yield* layer.receive(mine)).toEqual({ type: "local" })
        yield* sender.send(mine, { type: "through the live host" })
        expect(yield* layer.receive(mine)).toEqual({ type: "through the live host" })

        // Normal channels: sends round robin, so every other one needs the dead host.
        const results = yield* Effect.forEach(
          [0, 1, 2, 3],
          (n) => Effect.either(layer.send("jobs", { type: "job", n }))
        )
        expect(results.filter((result) => result._tag === "Right")).toHaveLength(2)
        const failed = results.filter((result) => result._tag === "Left").map((result) => result.left)
        expect(failed).toHaveLength(2)
        expect(failed[0]).toMatchObject({ _tag: "ConnectionClosed" })
        expect(String(failed[0].message)).toContain(`127.0.0.1:${port}`)
        // A receive pops on both hosts; the live one answers.
        yield* sender.send("jobs", { type: "job", n: 9 })
        const got = [
          (yield* layer.receive("jobs")).n,
          (yield* layer.receive("jobs")).n,
          (yield* layer.receive("jobs")).n
        ]
        expect(got.sort()).toEqual([0, 2, 9])
        expect(Option.isNone(yield* Effect.timeoutOption(layer.receive("jobs"), "300 millis"))).toBe(true)

        // Groups: those on the live host work, those on the dead one fail.
        const groups = Array.from({ length: 64 }, (_, i) => `g-${i}`)
        const onLive = groups.find((group) => groupShardIndex(group, 2) === 0)!
        const onDead = groups.find((group) => groupShardIndex(group, 2) === 1)!
        yield* layer.groupAdd(onLive, mine)
        yield* sender.groupSend(onLive, { type: "group" })
        expect(yield* layer.receive(mine)).toEqual({ type: "group" })
        expect(yield* Effect.flip(layer.groupAdd(onDead, mine))).toMatchObject({ _tag: "ConnectionClosed" })
        expect(yield* Effect.flip(layer.groupSend(onDead, { type: "group" }))).toMatchObject({
          _tag: "ConnectionClosed"
        })
      }),
    30_000
  )
})
