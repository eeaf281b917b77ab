import { Redis } from "@channel-layer/redis"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchServer, testPrefix, url } from "./helpers.js"

const refused = (options: unknown) => Effect.flip(Effect.scoped(Redis.make(options as Redis.RedisOptions)))

describe("Redis options", () => {
  it.effect("every bad option is an InvalidOptions naming it and saying what is allowed", () =>
    Effect.gen(function*() {
      const cases: Array<[unknown, string, string]> = [
        [null, "options", "must be an object"],
        [{ hosts: [] }, "hosts", "at least one"],
        [{ hosts: ["redis://a:1", "http://b:2"] }, "hosts[1]", "redis://, rediss:// (TLS) or unix://"],
        [{ hosts: ["http://x"] }, "hosts", "redis://, rediss:// (TLS) or unix://"],
        [{ hosts: ["not a url"] }, "hosts", "is not a URL"],
        [{ hosts: ["redis://h:6379/x"] }, "hosts", "database number"],
        [{ hosts: [42] }, "hosts", "URL string"],
        [{ hosts: [{ host: "" }] }, "hosts.host", "non-empty"],
        [{ hosts: [{ host: "h", port: 70000 }] }, "hosts.port", "1 to 65535"],
        [{ hosts: ["unix://"] }, "hosts", "socket path"],
        [{ prefix: "has space" }, "prefix", "printable ASCII"],
        [{ expiry: -1 }, "expiry", "positive"],
        [{ groupExpiry: "soon" }, "groupExpiry", "Duration"],
        [{ capacity: 0 }, "capacity", "positive integer"],
        [{ capacity: 1.5 }, "capacity", "positive integer"],
        [{ channelCapacity: { "a.*": -2 } }, "channelCapacity[a.*]", "positive integer"],
        [{ symmetricEncryptionKeys: "one key" }, "symmetricEncryptionKeys", "list of keys"],
        [{ symmetricEncryptionKeys: [""] }, "symmetricEncryptionKeys[0]", "non-empty"],
        [{ symmetricEncryptionKeys: ["secret", 42] }, "symmetricEncryptionKeys[1]", "got number"],
        [{ waitForConnection: 0 }, "waitForConnection", "positive"],
        [{ maxMessageSize: 2 ** 40 }, "maxMessageSize", "512 MiB"]
      ]
      for (const [options, option, reason] of cases) {
        const error = yield* refused(options)
        expect(error).toMatchObject({ _tag: "InvalidOptions", option })
        expect(error.message).toContain(reason)
      }
    }))

  it.scopedLive("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const prefix = testPrefix("config")
      const layer = Redis.layerConfig({ hosts: Config.string("REDIS_URL"), prefix: Config.string("PREFIX") })
      const provider = ConfigProvider.fromMap(new Map([["REDIS_URL", url], ["PREFIX", prefix]]))
      const context = yield* Layer.build(Layer.provide(layer, Layer.setConfigProvider(provider)))
      expect(context).toBeDefined()
      const bad = Redis.layerConfig({ capacity: Config.integer("CAPACITY") })
      const error = yield* Effect.flip(
        Layer.build(Layer.provide(bad, Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
      )
      expect(error._tag).toBe("ConfigError")
    }))

  it.scopedLive("a unix:// host with a database number", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "redis-unix-"))
      const socket = join(dir, "redis.sock")
      yield* scratchServer(["--port", "0", "--unixsocket", socket])
      const services = yield* Effect.orDie(Redis.make({ hosts: [`unix://${socket}?db=3`] }))
      const layer = services.channelLayer
      const other = (yield* Effect.orDie(Redis.make({ hosts: [`unix://${socket}?db=3`] }))).channelLayer
      const channel = yield* layer.newChannel()
      yield* other.send(channel, { type: "over.unix" })
      expect(yield* layer.receive(channel)).toStrictEqual({ type: "over.unix" })
      const keys = yield* services.connection.command(["KEYS", "asgi*"])
      expect((keys as Array<Buffer>).map(String)).toStrictEqual([])
      expect(String(yield* services.connection.command(["CLIENT", "INFO"]))).toContain("db=3")
    }))
})
