// The channel-layer bin as a process: the launcher, the standard streams, exit statuses and signals.
import { TcpProxy } from "@channel-layer/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, logLines, runBin, start, startProgram, zmqProxyBin } from "./support.js"

describe("the channel-layer bin", () => {
  it.live(
    "--help is plain text on stdout; a usage error goes to stderr and exits 2; a self-test passes",
    () =>
      Effect.gen(function*() {
        const helped = yield* runBin(["--help"])
        expect(helped).toMatchObject({ code: 0, stderr: "" })
        expect(helped.stdout).toContain("COMMANDS")
        expect(helped.stdout).not.toContain("\u001b[")

        const wrong = yield* runBin(["listen", "--count", "x"])
        expect(wrong).toMatchObject({ code: 2, stdout: "" })
        expect(wrong.stderr.split("\n").slice(0, 3)).toStrictEqual([
          "--count: \"x\" is not a whole number of 1 or more",
          "",
          "Usage:"
        ])

        const passed = yield* runBin(["self-test"], { CHANNEL_LAYER: "memory" })
        expect(passed).toMatchObject({ code: 0, stdout: "self-test passed\n" })
      }),
    60_000
  )

  it("without its TypeScript sources (an installed package) the launcher runs dist/bin.js", () => {
    const dir = mkdtempSync(join(tmpdir(), "channel-layer-bin-"))
    try {
      mkdirSync(join(dir, "bin"))
      mkdirSync(join(dir, "dist"))
      cpSync(fileURLToPath(new URL("../bin/channel-layer.js", import.meta.url)), join(dir, "bin/channel-layer.js"))
      writeFileSync(join(dir, "package.json"), "{\"type\":\"module\"}")
      writeFileSync(join(dir, "dist/bin.js"), "process.stdout.write(`dist ${process.argv.slice(2).join(\" \")}`)\n")
      const result = spawnSync(process.execPath, [join(dir, "bin/channel-layer.js"), "listen", "-g", "x"], {
        encoding: "utf8"
      })
      expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toStrictEqual({
        status: 0,
        stdout: "dist listen -g x",
        stderr: ""
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the channel-layer bin and AMQP_URL (no broker needed)", () => {
  it.live(
    "takes the broker URL from AMQP_URL when there is no --url, and never prints its password",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort // nothing listens there
        const env = { CHANNEL_LAYER: "rabbitmq", AMQP_URL: `amqp://someone:s3cret@127.0.0.1:${port}/x` }
        const failed = yield* runBin(["self-test", "--wait", "300ms"], env)
        expect(failed.code).toBe(1)
        expect(failed.stderr).toContain(`channel-layer: connection closed: no connection to RabbitMQ`)
        expect(failed.stderr).toContain(`amqp://someone:***@127.0.0.1:${port}/x`)
        expect(failed.stdout + failed.stderr).not.toContain("s3cret")
        // --url wins over it.
        const other = yield* freePort
        const flagged = yield* runBin(["self-test", "--wait", "300", "--url", `amqp://127.0.0.1:${other}/y`], env)
        expect(flagged.stderr).toContain(`@127.0.0.1:${other}/y`)
        expect(flagged.stderr).not.toContain(`:${port}/x`)
      }),
    60_000
  )

  it.live(
    "logs go to standard error, each entry once; standard output carries only what the command prints",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const failed = yield* runBin(["self-test", "--wait", "300ms"], {
          CHANNEL_LAYER: "rabbitmq",
          AMQP_URL: `amqp://127.0.0.1:${port}/x`
        })
        expect(failed.stdout).toBe("")
        const attempts = failed.stderr.split("\n").filter((line) =>
          line.includes("cannot connect to RabbitMQ (attempt 1)")
        )
        expect(attempts).toHaveLength(1)
        expect(logLines(attempts[0]!)).toStrictEqual([{ level: "WARN", message: expect.any(String) }])
        expect(failed.stderr).not.toMatch(/^undefined$/m)
      }),
    60_000
  )
})

/** The three messages of the exchange below, as `listen` prints them. */
const exchanged = [
  "{\"type\":\"cli.direct\",\"raw\":{\"$bytes\":\"AAE=\"}}",
  "{\"type\":\"cli.group\",\"n\":{\"$int\":\"9007199254740993\"}}",
  "{\"type\":\"cli.last\"}"
]

/**
 * The exchange every broker transport runs: `listen` on `group` for three messages, a direct send
 * and a group send from standard input with `env`, then a group send with the transport's flags
 * (`lastFlags`, in `lastEnv`) instead of the environment; the listener prints the three in order
 * and exits 0.
 */
const exchangeThree = (options: {
  readonly env: Record<string, string>
  readonly group: string
  readonly channelPattern: RegExp
  readonly lastFlags: ReadonlyArray<string>
  readonly lastEnv?: Record<string, string>
}) =>
  Effect.gen(function*() {
    const { env, group } = options
    const listener = yield* start(["listen", "--group", group, "--count", "3"], env)
    const banner = yield* Effect.promise(() => listener.waitForStderr("listening on "))
    const channel = /listening on (\S+)/.exec(banner)![1]!
    expect(channel).toMatch(options.channelPattern)

    const sent = yield* runBin(["send", channel, exchanged[0]!], env)
    expect(sent).toMatchObject({ code: 0 })
    const grouped = yield* runBin(["group-send", group, "-"], env, exchanged[1]!)
    expect(grouped).toMatchObject({ code: 0 })
    const again = yield* runBin(["group-send", group, exchanged[2]!, ...options.lastFlags], options.lastEnv)
    expect(again).toMatchObject({ code: 0 })

    expect(yield* Effect.promise(() => listener.exited)).toBe(0)
    expect(listener.stdout().trim().split("\n")).toStrictEqual(exchanged)
  })

describe("the channel-layer bin on RabbitMQ (127.0.0.1, vhost asgi)", () => {
  it.scopedLive("listen in one process; send and group-send from others arrive", () =>
    Effect.gen(function*() {
      const group = `cli-${Math.random().toString(36).slice(2, 10)}`
      const env = { CHANNEL_LAYER: "rabbitmq" }
      yield* exchangeThree({
        env,
        group,
        channelPattern: /^channels_[A-Za-z]{12}!/,
        lastFlags: ["--url", "amqp://guest:guest@127.0.0.1:5672/asgi"]
      })

      const interrupted = yield* start(["listen", "-g", group], env)
      yield* Effect.promise(() => interrupted.waitForStderr("listening on "))
      interrupted.kill("SIGINT")
      expect(yield* Effect.promise(() => interrupted.exited)).toBe(0)

      const passed = yield* runBin(["self-test"], env)
      expect(passed).toMatchObject({ code: 0, stdout: "self-test passed\n" })
    }), 90_000)

  it.scopedLive(
    "listen leaves cleanly and exits 0 on Ctrl-C (SIGINT to its process group) and on SIGTERM",
    () =>
      Effect.gen(function*() {
        // Ctrl-C in a terminal signals every process of the foreground group: a launcher that forwarded
        // the signal to a child program made that child get two, and the second killed it (exit 128)
        // while it was still leaving its groups. So the group case runs twice.
        const cases = [["SIGINT", true], ["SIGINT", true], ["SIGTERM", false], ["SIGINT", false]] as const
        for (const [signal, group] of cases) {
          const listener = yield* start(["listen", "-g", "lobby"], { CHANNEL_LAYER: "rabbitmq" }, {
            ownProcessGroup: true
          })
          yield* Effect.promise(() => listener.waitForStderr("listening on "))
          process.kill(group ? -listener.pid : listener.pid, signal)
          const exited = yield* Effect.promise(() => listener.exited)
          expect({ signal, group, exited, stdout: listener.stdout() }).toStrictEqual({
            signal,
            group,
            exited: 0,
            stdout: ""
          })
        }
      }),
    90_000
  )

  it.scopedLive(
    "while the broker is cut and comes back, stdout stays one JSON line per message and each warning is logged once",
    () =>
      Effect.gen(function*() {
        const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: 5672 } })
        const group = `cli-${Math.random().toString(36).slice(2, 10)}`
        const env = { CHANNEL_LAYER: "rabbitmq" }
        const listener = yield* start(["listen", "-g", group, "-n", "2", "-v", "--url", proxy.url()], env)
        yield* Effect.promise(() => listener.waitForStderr("listening on "))
        expect(yield* runBin(["group-send", group, "{\"type\":\"before\"}"], env)).toMatchObject({ code: 0 })
        yield* Effect.promise(() => listener.waitForLines(1))

        yield* proxy.refuse(true)
        yield* proxy.cutAll
        yield* Effect.promise(() => listener.waitForStderr("cannot connect to RabbitMQ (attempt 1 to reconnect)"))
        yield* proxy.refuse(false)
        yield* Effect.promise(() => listener.waitForStderr("reconnected to "))
        expect(yield* runBin(["group-send", group, "{\"type\":\"after\",\"n\":1}"], env)).toMatchObject({ code: 0 })

        expect(yield* Effect.promise(() => listener.exited)).toBe(0)
        // What `| jq .` would read: only the messages, each one line of JSON.
        const lines = listener.stdout().split("\n").filter((line) => line !== "")
        expect(lines.map((line) => JSON.parse(line))).toStrictEqual([{ type: "before" }, { type: "after", n: 1 }])
        const logged = logLines(listener.stderr())
        const warnings = logged.filter((line) => line.level === "WARN").map((line) => line.message)
        expect(warnings).toStrictEqual([
          expect.stringContaining("lost the connection to RabbitMQ"),
          expect.stringContaining("cannot connect to RabbitMQ (attempt 1 to reconnect)")
        ])
        // Every line of stderr is a log entry or one of listen's own lines; no entry twice.
        expect(new Set(logged.map((line) => line.message)).size).toBe(logged.length)
        expect(listener.stderr().split("\n").filter((line) => line !== "" && !line.startsWith("timestamp=")))
          .toStrictEqual([expect.stringMatching(/^listening on /)])
      }),
    90_000
  )
})

describe("the channel-layer bin on Redis (127.0.0.1:6379 db 0, a key prefix of its own)", () => {
  it.scopedLive(
    "listen in one process; send and group-send from others arrive; self-test passes",
    () =>
      Effect.gen(function*() {
        const id = randomUUID()
        const group = `cli-${id.slice(0, 8)}`
        // The prefix through the environment, the URL through the environment or --redis-url.
        const env = { CHANNEL_LAYER: "redis", REDIS_URL: "redis://127.0.0.1:6379/0", REDIS_PREFIX: `cli-test-${id}` }
        yield* exchangeThree({
          env,
          group,
          channelPattern: /^[a-z]+\.[0-9a-f]{32}![0-9a-f]{32}$/,
          lastFlags: ["--layer", "redis", "--redis-url", "redis://127.0.0.1:6379/0"],
          lastEnv: { REDIS_PREFIX: env.REDIS_PREFIX }
        })

        // Another prefix is another layer: a group send there reaches no one here.
        const elsewhere = yield* start(["listen", "-g", group, "--timeout", "2s"], env)
        yield* Effect.promise(() => elsewhere.waitForStderr("listening on "))
        expect(yield* runBin(["group-send", group, "{\"type\":\"cli.other\"}", "--redis-prefix", `other-${id}`], env))
          .toMatchObject({ code: 0 })
        expect(yield* Effect.promise(() => elsewhere.exited)).toBe(0)
        expect(elsewhere.stdout()).toBe("")

        const passed = yield* runBin(["self-test"], env)
        expect(passed).toMatchObject({ code: 0, stdout: "self-test passed\n" })
      }),
    90_000
  )

  it.live("no Redis within --wait: exits 1 saying so, without the password of REDIS_URL", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const env = { CHANNEL_LAYER: "redis", REDIS_URL: `redis://:s3cret@127.0.0.1:${port}/0` }
      const failed = yield* runBin(["send", "jobs", "{\"type\":\"x\"}", "--wait", "300ms"], env)
      expect(failed.code).toBe(1)
      expect(failed.stderr).toContain(
        `channel-layer: connection closed: no connection to Redis at redis://:***@127.0.0.1:${port}/0`
      )
      expect(failed.stderr).not.toContain("s3cret")
    }), 60_000)
})

describe("the channel-layer bin on ZeroMQ", () => {
  it.scopedLive(
    "dedicated: listen and send through a channel-layer-zmq-proxy process; embedded self-test",
    () =>
      Effect.gen(function*() {
        const pull = `tcp://127.0.0.1:${yield* freePort}`
        const pub = `tcp://127.0.0.1:${yield* freePort}`
        const proxy = yield* startProgram(zmqProxyBin, ["--pull", pull, "--pub", pub, "--settle", "0"])
        yield* Effect.promise(() => proxy.waitForOutput(" listening: PULL on "))
        const env = { CHANNEL_LAYER: "zeromq", ZMQ_PUSH: pull, ZMQ_SUB: pub }
        const group = `cli-${Math.random().toString(36).slice(2, 10)}`

        const listener = yield* start(["listen", "-g", group, "-n", "2"], env)
        const banner = yield* Effect.promise(() => listener.waitForStderr("listening on "))
        const channel = /listening on (\S+)/.exec(banner)![1]!
        expect(yield* runBin(["send", channel, "{\"type\":\"zmq.direct\"}"], env)).toMatchObject({ code: 0 })
        expect(yield* runBin(["group-send", group, "{\"type\":\"zmq.group\",\"n\":1}"], env)).toMatchObject({ code: 0 })
        expect(yield* Effect.promise(() => listener.exited)).toBe(0)
        expect(listener.stdout().trim().split("\n")).toStrictEqual([
          "{\"type\":\"zmq.direct\"}",
          "{\"type\":\"zmq.group\",\"n\":1}"
        ])

        const embedded = yield* runBin(["self-test", "--layer", "zeromq"])
        expect(embedded).toMatchObject({ code: 0, stdout: "self-test passed\n" })
        const half = yield* runBin(["self-test", "--layer", "zeromq", "--zmq-push", pull])
        expect(half.code).toBe(2)
      }),
    90_000
  )
})
