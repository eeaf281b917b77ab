import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Main } from "../src/index.js"
import { captureOutput, runBin } from "./support.js"

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
