/**
 * `rediss://` against a redis-server of the test's own that speaks only TLS, with a throwaway CA
 * and server certificate (the testing package's, made with the openssl CLI).
 */
import { Redis } from "@channel-layer/redis"
import { Ports, TlsBroker } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchServer } from "./helpers.js"

describe("Redis over TLS", () => {
  it.scopedLive("rediss:// with the CA given in tls.ca; without it the connection is refused", () =>
    Effect.gen(function*() {
      const files = yield* Effect.orDie(TlsBroker.generateCertificates(mkdtempSync(join(tmpdir(), "redis-tls-"))))
      const [port] = yield* Ports.free(1)
      yield* scratchServer([
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        files.serverCertFile,
        "--tls-key-file",
        files.serverKeyFile,
        "--tls-ca-cert-file",
        files.caFile,
        "--tls-auth-clients",
        "no"
      ])
      const host = `rediss://localhost:${port}/0`
      const ca = readFileSync(files.caFile, "utf8")
      const one = (yield* Effect.orDie(Redis.make({ hosts: [host], tls: { ca } }))).channelLayer
      const two = (yield* Effect.orDie(Redis.make({ hosts: [host], tls: { ca } }))).channelLayer
      const channel = yield* one.newChannel()
      yield* two.send(channel, { type: "over.tls" })
      expect(yield* one.receive(channel)).toStrictEqual({ type: "over.tls" })

      const untrusting = yield* Effect.orDie(Redis.make({ hosts: [host], waitForConnection: "1 second" }))
      const error = yield* Effect.flip(untrusting.channelLayer.send(channel, { type: "x" }))
      expect(error._tag).toBe("ConnectionClosed")
      expect(error.message).toMatch(/self.signed|certificate/i)
      expect(yield* untrusting.connection.lastError).toMatch(/certificate/i)
    }))

  it.effect("tls applies to rediss:// hosts only, and its fields are checked", () =>
    Effect.gen(function*() {
      const bad = (options: Redis.RedisOptions) => Effect.flip(Effect.scoped(Redis.make(options)))
      expect(yield* bad({ hosts: ["redis://localhost"], tls: {} })).toMatchObject({ option: "tls" })
      expect(yield* bad({ hosts: ["rediss://localhost"], tls: { ca: 42 as never } })).toMatchObject({
        option: "tls.ca"
      })
      expect(yield* bad({ hosts: ["rediss://localhost"], tls: { cert: "x" } })).toMatchObject({ option: "tls.key" })
    }))
})
