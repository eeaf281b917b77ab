import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Main } from "../src/index.js"
import { captureOutput, freePort, runBin, start, startProgram, zmqProxyBin } from "./support.js"

describe("the program on the in-memory layer", () => {
  it.live("self-test sends to itself and passes", () =>
    Effect.gen(function*() {
      const output = captureOutput()
      const code = yield* Main.program(["self-test", "--layer", "memory"], {}).pipe(Effect.provide(output.layer))
      expect(code).toBe(0)
      expect(output.out).toStrictEqual(["self-test passed"])
      expect(output.err.join("\n")).toContain("group message: ok")
    }))

  it.live("listen stops after its timeout; send fails with the layer's error and status 1", () =>
    Effect.gen(function*() {
      const listen = captureOutput()
      expect(
        yield* Main.program(["listen", "--layer", "memory", "-g", "lobby", "--timeout", "100"], {}).pipe(
          Effect.provide(listen.layer)
        )
      ).toBe(0)
      expect(listen.err[0]).toMatch(/^listening on specific\.inmemory![A-Za-z]+ \(groups: lobby\)$/)

      const send = captureOutput()
      expect(
        yield* Main.program(["send", "bad name", "{\"type\":\"x\"}", "--layer", "memory"], {}).pipe(
          Effect.provide(send.layer)
        )
      ).toBe(1)
      expect(send.err.join("\n")).toContain("invalid channel name \"bad name\"")

      const invalid = captureOutput("{\"no\":\"type\"}")
      expect(
        yield* Main.program(["group-send", "lobby", "-", "--layer", "memory"], {}).pipe(
          Effect.provide(invalid.layer)
        )
      ).toBe(1)
      expect(invalid.err.join("\n")).toContain("invalid message")
    }))

  it.live("usage errors exit with 2 and print the command's help", () =>
    Effect.gen(function*() {
      const output = captureOutput()
      expect(yield* Main.program(["send"], {}).pipe(Effect.provide(output.layer))).toBe(2)
      expect(output.err.join("\n")).toContain("Usage: channel-layer send CHANNEL MESSAGE")
    }))
})

describe("the channel-layer bin", () => {
  it.live("--help, a usage error and a self-test on the in-memory layer", () =>
    Effect.gen(function*() {
      const helped = yield* runBin(["--help"])
      expect(helped.code).toBe(0)
      expect(helped.stdout).toContain("Usage: channel-layer COMMAND")

      const wrong = yield* runBin(["listen", "--count", "x"])
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toContain("--count must be a positive integer")

      const passed = yield* runBin(["self-test"], { CHANNEL_LAYER: "memory" })
      expect(passed.code).toBe(0)
      expect(passed.stdout.trim()).toBe("self-test passed")
    }), 60_000)
})

describe("the channel-layer bin and AMQP_URL (no broker needed)", () => {
  it.live(
    "takes the broker URL from AMQP_URL when there is no --url, and never prints its password",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort // nothing listens there
        const env = { CHANNEL_LAYER: "rabbitmq", AMQP_URL: `amqp://someone:s3cret@127.0.0.1:${port}/x` }
        const failed = yield* runBin(["self-test", "--wait", "300"], env)
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
    "logs go to standard error, each line once; standard output carries only what the command prints",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const failed = yield* runBin(["self-test", "--wait", "300"], {
          CHANNEL_LAYER: "rabbitmq",
          AMQP_URL: `amqp://127.0.0.1:${port}/x`
        })
        expect(failed.stdout).toBe("")
        const attempts = failed.stderr.split("\n").filter((line) =>
          line.includes("cannot connect to RabbitMQ (attempt 1)")
        )
        expect(attempts).toHaveLength(1)
        expect(failed.stderr).not.toMatch(/^undefined$/m)
      }),
    60_000
  )
})

describe("the channel-layer bin on RabbitMQ (127.0.0.1, vhost asgi)", () => {
  it.scopedLive(
    "listen in one process; send and group-send from others arrive; Ctrl-C leaves cleanly",
    () =>
      Effect.gen(function*() {
        const group = `cli-${Math.random().toString(36).slice(2, 10)}`
        const env = { CHANNEL_LAYER: "rabbitmq" }
        const listener = yield* start(["listen", "--group", group, "--count", "3"], env)
        const banner = yield* Effect.promise(() => listener.waitForStderr("listening on "))
        const channel = /listening on (\S+)/.exec(banner)![1]!
        expect(channel).toMatch(/^channels_[A-Za-z]{12}!/)

        const sent = yield* runBin(["send", channel, "{\"type\":\"cli.direct\",\"raw\":{\"$bytes\":\"AAE=\"}}"], env)
        expect(sent).toMatchObject({ code: 0 })
        const grouped = yield* runBin(
          ["group-send", group, "-"],
          env,
          "{\"type\":\"cli.group\",\"n\":{\"$int\":\"9007199254740993\"}}"
        )
        expect(grouped).toMatchObject({ code: 0 })
        const again = yield* runBin([
          "group-send",
          group,
          "{\"type\":\"cli.last\"}",
          "--url",
          "amqp://guest:guest@127.0.0.1:5672/asgi"
        ])
        expect(again).toMatchObject({ code: 0 })

        expect(yield* Effect.promise(() => listener.exited)).toBe(0)
        expect(listener.stdout().trim().split("\n")).toStrictEqual([
          "{\"type\":\"cli.direct\",\"raw\":{\"$bytes\":\"AAE=\"}}",
          "{\"type\":\"cli.group\",\"n\":{\"$int\":\"9007199254740993\"}}",
          "{\"type\":\"cli.last\"}"
        ])

        const interrupted = yield* start(["listen", "-g", group], env)
        yield* Effect.promise(() => interrupted.waitForStderr("listening on "))
        interrupted.kill("SIGINT")
        expect(yield* Effect.promise(() => interrupted.exited)).toBe(0)

        const passed = yield* runBin(["self-test"], env)
        expect(passed).toMatchObject({ code: 0, stdout: "self-test passed\n" })
      }),
    90_000
  )

  it.live("a broker that is not there fails with ConnectionClosed and status 1", () =>
    Effect.gen(function*() {
      const failed = yield* runBin([
        "send",
        "channels_abcdefghijkl!x",
        "{\"type\":\"x\"}",
        "--url",
        "amqp://guest:guest@127.0.0.1:1/asgi",
        "--wait",
        "1 second"
      ], {
        CHANNEL_LAYER: "rabbitmq"
      })
      expect(failed.code).toBe(1)
      expect(failed.stderr).toContain("channel-layer: connection closed")
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
