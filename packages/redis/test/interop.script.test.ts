/**
 * Interop with Python's channels_redis 4.x (Debian's python3-channels-redis, run by
 * /usr/bin/python3): both directions on process-local channels, group sends both ways (Python's
 * `__asgi_channel__` lists), and normal channels. Skipped when channels_redis is not installed.
 */
import { Redis } from "@channel-layer/redis"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Queue } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { testPrefix, url } from "./helpers.js"

const python = "/usr/bin/python3"
const available = spawnSync(python, ["-c", "import channels_redis.core"]).status === 0

const peer = `
import asyncio, sys
from channels_redis.core import RedisChannelLayer

async def main():
    url, prefix, ours, group, normal, to_python, group2 = sys.argv[1:8]
    layer = RedisChannelLayer(hosts=[url], prefix=prefix)
    await layer.send(ours, {"type": "py.direct", "n": 1, "b": b"\\x00\\xff", "big": 2 ** 40, "f": 1.5})
    await layer.group_send(group, {"type": "py.group", "text": "h\\u00e9llo"})
    await layer.send(normal, {"type": "py.normal", "list": [1, "two", None]})
    mine = await layer.new_channel()
    print(mine, flush=True)
    got = await layer.receive(mine)
    await layer.send(ours, {"type": "py.echo", "got": got})
    got = await layer.receive(to_python)
    await layer.send(ours, {"type": "py.echo-normal", "got": got})
    await layer.group_add(group2, mine)
    print("joined", flush=True)
    got = await layer.receive(mine)
    await layer.send(ours, {"type": "py.echo-group", "got": got})

asyncio.run(main())
`

describe.skipIf(!available)("Redis interop with Python channels_redis (one scripted Python process)", () => {
  it.scopedLive("messages, groups and normal channels both ways", () =>
    Effect.gen(function*() {
      const prefix = testPrefix("interop")
      const layer = (yield* Effect.orDie(Redis.make({ hosts: [url], prefix }))).channelLayer
      const ours = yield* layer.newChannel()
      const [group, group2, normal, toPython] = ["g1", "g2", "to-node", "to-python"].map((n) => `${n}-${prefix}`)
        .map((n) => n.replace(/:/g, ""))
      yield* layer.groupAdd(group, ours)

      const lines = yield* Queue.unbounded<string>()
      const child = spawn(python, ["-c", peer, url, prefix, ours, group, normal, toPython, group2], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
      let buffered = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString()
        const parts = buffered.split("\n")
        buffered = parts.pop()!
        for (const line of parts) Queue.unsafeOffer(lines, line)
      })
      const within = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.timeout(Duration.seconds(15)))

      expect(yield* within(layer.receive(ours))).toStrictEqual({
        type: "py.direct",
        n: 1,
        b: new Uint8Array([0, 255]),
        big: 2 ** 40,
        f: 1.5
      })
      expect(yield* within(layer.receive(ours))).toStrictEqual({ type: "py.group", text: "héllo" })
      expect(yield* within(layer.receive(normal))).toStrictEqual({ type: "py.normal", list: [1, "two", null] })

      const theirs = yield* within(Queue.take(lines))
      expect(theirs).toMatch(/^specific\.[0-9a-f]{32}![0-9a-f]{32}$/)
      yield* layer.send(theirs, { type: "ts.direct", bytes: new Uint8Array([1, 2]), big: 2n ** 62n })
      expect(yield* within(layer.receive(ours))).toStrictEqual({
        type: "py.echo",
        got: { type: "ts.direct", bytes: new Uint8Array([1, 2]), big: 2n ** 62n }
      })

      yield* layer.send(toPython, { type: "ts.normal" })
      expect(yield* within(layer.receive(ours))).toStrictEqual({ type: "py.echo-normal", got: { type: "ts.normal" } })

      expect(yield* within(Queue.take(lines))).toBe("joined")
      yield* layer.groupSend(group2, { type: "ts.group", n: 7 })
      expect(yield* within(layer.receive(ours))).toStrictEqual({
        type: "py.echo-group",
        got: { type: "ts.group", n: 7 }
      })
    }), 60_000)
})
