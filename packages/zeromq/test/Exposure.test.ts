// A socket bound to an address that other machines can reach, without CURVE, takes messages from
// and hands them to anyone who connects: the embedded layer and the proxy log a warning at start
// that names the endpoint and the fix. The examples and help texts show loopback addresses only.
import { ZeroMQ, ZeroMQProxy } from "@channel-layer/zeromq"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { curveKeyPair } from "zeromq"
import * as Cli from "../src/internal/Cli.js"
import * as Exposure from "../src/internal/Exposure.js"
import { build, captureLogs } from "./support/layers.js"

const keys = curveKeyPair()

/** The warnings about exposed sockets among the captured lines. */
const exposureWarnings = (lines: ReadonlyArray<string>) =>
  lines.filter((line) => line.startsWith("WARN") && line.includes("without CURVE"))

/** The exposure warnings logged while an embedded layer with these options starts. */
const embeddedWarnings = (options: Partial<ZeroMQ.EmbeddedOptions>) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const { transport } = yield* build(
      ZeroMQ.layerEmbedded({ publishAddress: "tcp://127.0.0.1:*", linger: 0, settle: 0, ...options })
    ).pipe(Effect.provide(logs.layer))
    return { warnings: exposureWarnings(logs.lines), endpoint: transport.publishEndpoint }
  })

/** The exposure warnings logged while a proxy with these options starts. */
const proxyWarnings = (options: Partial<ZeroMQProxy.ProxyOptions>) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const context = yield* Layer.build(ZeroMQProxy.layer({
      pullAddress: "tcp://127.0.0.1:*",
      publishAddress: "tcp://127.0.0.1:*",
      settle: 0,
      linger: 0,
      ...options
    })).pipe(Effect.provide(logs.layer))
    return { warnings: exposureWarnings(logs.lines), proxy: Context.get(context, ZeroMQProxy.ZeroMQProxy) }
  })

describe("Exposure.isLocal", () => {
  it("takes loopback addresses, localhost, ipc:// and inproc:// for local, everything else for exposed", () => {
    const local = [
      "tcp://127.0.0.1:5555",
      "tcp://127.255.0.9:1",
      "tcp://localhost:5555",
      "tcp://LOCALHOST:*",
      "tcp://[::1]:5555",
      "tcp://[0:0:0:0:0:0:0:1]:5555",
      "tcp://[::ffff:127.0.0.1]:5555",
      "ws://localhost:8080/zmq",
      "ipc:///run/channel-layer.sock",
      "inproc://proxy"
    ]
    const exposed = [
      "tcp://*:5555",
      "tcp://0.0.0.0:5555",
      "tcp://[::]:5555",
      "tcp://10.0.0.5:5555",
      "tcp://128.0.0.1:5555",
      "tcp://127.example.com:5555",
      "tcp://eth0:5555",
      "tcp://example.com:5555",
      "tcp://[::2]:5555",
      "tcp://[::ffff:10.0.0.1]:5555",
      "epgm://eth0;239.192.1.1:5555"
    ]
    for (const endpoint of local) expect(Exposure.isLocal(endpoint), endpoint).toBe(true)
    for (const endpoint of exposed) expect(Exposure.isLocal(endpoint), endpoint).toBe(false)
    expect(["tcp://*:1", "tcp://0.0.0.0:1", "tcp://[::]:1"].every(Exposure.isEveryInterface)).toBe(true)
    expect(Exposure.isEveryInterface("tcp://10.0.0.5:1")).toBe(false)
  })
})

describe("a socket bound beyond loopback without CURVE", () => {
  it.scopedLive("embedded: 0.0.0.0 and * log one warning naming the endpoint and how to fix it", () =>
    Effect.gen(function*() {
      for (const publishAddress of ["tcp://0.0.0.0:*", "tcp://*:*"]) {
        const { endpoint, warnings } = yield* embeddedWarnings({ publishAddress })
        expect(warnings, publishAddress).toHaveLength(1)
        expect(warnings[0]).toContain(endpoint)
        expect(warnings[0]).toContain(`publishAddress ${publishAddress}`)
        expect(warnings[0]).toMatch(
          /every network interface, without CURVE: anyone who can connect to it can subscribe/
        )
        expect(warnings[0]).toMatch(/127\.0\.0\.1/)
        expect(warnings[0]).toMatch(/curve/)
      }
    }))

  it.scopedLive("embedded: CURVE on the PUB socket silences it; CURVE only towards the peers does not", () =>
    Effect.gen(function*() {
      const server = yield* embeddedWarnings({ publishAddress: "tcp://0.0.0.0:*", curve: { ...keys } })
      expect(server.warnings).toEqual([])
      const clientOnly = yield* embeddedWarnings({
        publishAddress: "tcp://0.0.0.0:*",
        curve: { serverPublicKey: keys.publicKey }
      })
      expect(clientOnly.warnings).toHaveLength(1)
    }))

  it.scopedLive("embedded: loopback, localhost and ipc:// log nothing", () =>
    Effect.gen(function*() {
      const ipc = `ipc://${join(tmpdir(), `channel-layer-exposure-${process.pid}.sock`)}`
      for (const publishAddress of ["tcp://127.0.0.1:*", "tcp://127.0.0.2:*", "tcp://localhost:*", ipc]) {
        expect((yield* embeddedWarnings({ publishAddress })).warnings, publishAddress).toEqual([])
      }
    }))

  it.scopedLive("the proxy: each exposed socket (PULL, PUB) logs its warning; CURVE silences both", () =>
    Effect.gen(function*() {
      const open = yield* proxyWarnings({ pullAddress: "tcp://0.0.0.0:*", publishAddress: "tcp://0.0.0.0:*" })
      expect(open.warnings).toHaveLength(2)
      expect(open.warnings.find((line) => line.includes(open.proxy.pullEndpoint))).toMatch(/PULL socket.*can send/)
      expect(open.warnings.find((line) => line.includes(open.proxy.publishEndpoint))).toMatch(/PUB socket/)
      expect(open.warnings.join("\n")).toMatch(/--curve-secret-key/)
      const half = yield* proxyWarnings({ publishAddress: "tcp://0.0.0.0:*" })
      expect(half.warnings).toHaveLength(1)
      expect(half.warnings[0]).toContain(`publishAddress tcp://0.0.0.0:*`)
      expect((yield* proxyWarnings({})).warnings).toEqual([])
      const curve = yield* proxyWarnings({
        pullAddress: "tcp://0.0.0.0:*",
        publishAddress: "tcp://0.0.0.0:*",
        curve: { secretKey: keys.secretKey }
      })
      expect(curve.warnings).toEqual([])
    }))
})

describe("examples and help texts", () => {
  const root = new URL("../../../", import.meta.url).pathname
  const files = (dir: string): Array<string> =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.name === "node_modules"
        ? []
        : entry.isDirectory()
        ? files(join(dir, entry.name))
        : /\.(ts|md|py|html)$/.test(entry.name)
        ? [join(dir, entry.name)]
        : []
    )

  it("show loopback addresses, never every interface", () => {
    const exposed = /tcp:\/\/(0\.0\.0\.0|\*)[:/]/
    expect(Cli.usage).not.toMatch(exposed)
    expect(Cli.usage).toMatch(/tcp:\/\/127\.0\.0\.1:5557/)
    const documents = [
      "README.md",
      "packages/zeromq/README.md",
      "packages/zeromq/src/ZeroMQ.ts",
      "packages/zeromq/src/ZeroMQProxy.ts",
      "packages/cli/README.md",
      ...files("examples")
    ]
    const offending = documents.filter((file) => exposed.test(readFileSync(join(root, file), "utf8")))
    expect(offending).toEqual([])
  })
})
