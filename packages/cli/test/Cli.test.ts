// The program in this process (Cli.run), with its console captured: what each command prints
// where, exit statuses, usage errors and help.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runCli } from "./support.js"

// eslint-disable-next-line no-control-regex
const plain = (lines: ReadonlyArray<string>) => lines.join("\n").replace(/\u001b\[[0-9;]*m/g, "")

describe("channel-layer on the in-memory layer", () => {
  it.live("self-test sends to itself and passes: the verdict on stdout, the steps on stderr", () =>
    Effect.gen(function*() {
      const run = yield* runCli(["self-test", "--layer", "memory"])
      expect(run).toMatchObject({ code: 0, out: ["self-test passed"] })
      expect(run.err).toContain("group message: ok")
    }))

  it.live("the environment picks the layer", () =>
    Effect.gen(function*() {
      expect(yield* runCli(["self-test"], { env: { CHANNEL_LAYER: "memory" } })).toMatchObject({ code: 0 })
    }))

  it.live("listen stops after its timeout (500ms, 2s, ... or Effect's \"2 seconds\") with status 0", () =>
    Effect.gen(function*() {
      for (const timeout of ["100ms", "100 millis", "100"]) {
        const run = yield* runCli(["listen", "--layer", "memory", "-g", "lobby", "--timeout", timeout])
        expect(run).toMatchObject({ code: 0, out: [] })
        expect(run.err[0]).toMatch(/^listening on specific\.inmemory![A-Za-z]+ \(groups: lobby\)$/)
        expect(run.err[1]).toBe("no more messages after 100ms")
      }
    }))

  it.live("a failed command exits 1 with `channel-layer: <what went wrong>`", () =>
    Effect.gen(function*() {
      const badName = yield* runCli(["send", "bad name", "{\"type\":\"x\"}", "--layer", "memory"])
      expect(badName).toMatchObject({ code: 1, out: [] })
      expect(badName.err).toStrictEqual([expect.stringMatching(/^channel-layer: invalid channel name "bad name"/)])

      const invalid = yield* runCli(["group-send", "lobby", "-", "--layer", "memory"], { stdin: "{\"no\":\"type\"}" })
      expect(invalid.code).toBe(1)
      expect(invalid.err.join("\n")).toContain("channel-layer: invalid message")

      const sent = yield* runCli(["group-send", "lobby", "-", "--layer", "memory"], { stdin: "{\"type\":\"x\"}\n" })
      expect(sent).toMatchObject({ code: 0, out: [], err: ["sent x to group lobby"] })
    }))
})

describe("usage errors", () => {
  const usageError = (args: ReadonlyArray<string>) =>
    Effect.map(runCli(args), (run) => {
      expect(run.code).toBe(2)
      expect(run.out).toStrictEqual([])
      return plain(run.err)
    })

  it.live("say what is wrong on one line, then the command's usage (not its help), and exit 2", () =>
    Effect.gen(function*() {
      const missing = yield* usageError(["send", "only-one"])
      const [what, blank, usage, ...rest] = missing.split("\n")
      expect({ what, blank, usage }).toStrictEqual({ what: "Missing argument <MESSAGE>", blank: "", usage: "Usage:" })
      expect(rest).toStrictEqual([
        expect.stringMatching(
          /^ {2}channel-layer send \[--layer memory\|rabbitmq\|redis\|zeromq\] .*<CHANNEL> <MESSAGE>$/
        ),
        "More: channel-layer send --help"
      ])
      expect(missing).not.toContain("DESCRIPTION")
    }))

  it.live("name the option and what it accepts", () =>
    Effect.gen(function*() {
      const firstLine = (args: ReadonlyArray<string>) => Effect.map(usageError(args), (err) => err.split("\n")[0])
      expect(yield* firstLine(["listen", "--count", "0"])).toBe("--count: \"0\" is not a whole number of 1 or more")
      expect(yield* firstLine(["listen", "--timeout", "soon"])).toBe(
        "--timeout: \"soon\" is not a duration: write 500ms, 2s, 1m, 1h, \"2 seconds\", \"500 millis\" or a number " +
          "of milliseconds"
      )
      expect(yield* firstLine(["self-test", "--layer", "kafka"])).toBe(
        "--layer: \"kafka\" is not one of memory, rabbitmq, redis, zeromq"
      )
      expect(yield* firstLine(["self-test", "--log-level", "loud"])).toContain("--log-level: \"loud\" is not one of")
      expect(yield* firstLine(["send", "a", "b", "--group", "g"])).toBe("Received unknown argument: '--group'")
      expect(yield* firstLine(["self-test", "--layer", "zeromq", "--zmq-push", "tcp://127.0.0.1:1"])).toBe(
        "ZeroMQ's dedicated mode needs both --zmq-push and --zmq-sub (the proxy's PULL and PUB addresses)"
      )
    }))

  it.live("an unknown command lists the commands' usages", () =>
    Effect.gen(function*() {
      const unknown = yield* usageError(["frobnicate"])
      expect(unknown.split("\n")[0]).toContain("Invalid subcommand for channel-layer")
      for (const command of ["send", "group-send", "listen", "self-test", "help"]) {
        expect(unknown).toContain(`\n  channel-layer ${command} `)
      }
      expect(unknown).toContain("More: channel-layer --help")
    }))
})

describe("help", () => {
  it.live("--help, no arguments, help COMMAND and COMMAND --help print help on stdout and exit 0", () =>
    Effect.gen(function*() {
      for (const args of [["--help"], []]) {
        const run = yield* runCli(args)
        expect(run).toMatchObject({ code: 0, err: [] })
        expect(plain(run.out)).toContain("COMMANDS")
      }
      for (const args of [["help", "listen"], ["listen", "--help"], ["listen", "-h"]]) {
        const run = yield* runCli(args)
        expect(run).toMatchObject({ code: 0, err: [] })
        expect(plain(run.out)).toContain("Makes a new channel, adds it to each GROUP")
        expect(plain(run.out)).toContain("--timeout DURATION")
      }
      const version = yield* runCli(["--version"])
      expect(plain(version.out).trim()).toBe("0.1.0")
    }))
})
