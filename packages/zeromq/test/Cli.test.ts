// The channel-layer-zmq-proxy command: its options, usage errors, the process it runs (logs on
// standard error, clean stop on SIGINT, SIGTERM or a closed IPC channel), and the launcher in bin/.
import { CliConfig, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Console, Duration, Effect, LogLevel } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "../src/internal/Cli.js"
import { freePorts, tcp } from "./support/ports.js"

const launcher = new URL("../bin/channel-layer-zmq-proxy.js", import.meta.url).pathname
const program = new URL("../src/bin/proxy.ts", import.meta.url).pathname
const tsx = createRequire(import.meta.url).resolve("tsx")

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the launcher (in a process group of its own, as a shell runs a command) until it exits;
 * `onOutput` sees stdout and stderr as they grow.
 */
const run = (
  args: ReadonlyArray<string>,
  onOutput?: (output: string, child: ReturnType<typeof spawn>) => void
) =>
  Effect.promise(() =>
    new Promise<Ended>((resolve) => {
      const child = spawn(process.execPath, [launcher, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        onOutput?.(stdout + stderr, child)
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
        onOutput?.(stdout + stderr, child)
      })
      child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
    })
  )

/** The options of these arguments, as the proxy would run them. */
const parse = (args: ReadonlyArray<string>) =>
  Options.processCommandLine(Cli.options, args, CliConfig.defaultConfig).pipe(
    Effect.map(([, , options]) => options),
    Effect.provide(NodeContext.layer)
  )

/** The lines the CLI prints for these arguments, run in this process, and the exit status. */
const runInProcess = (args: ReadonlyArray<string>) =>
  Console.consoleWith((console) => {
    const err: Array<string> = []
    const error = (...items: ReadonlyArray<unknown>) => void err.push(items.map(String).join(" "))
    return Cli.runCli(args).pipe(
      Effect.withConsole({ ...console, error: (...items) => Effect.sync(() => error(...items)) }),
      Effect.provide(Cli.layer),
      Effect.exit,
      // eslint-disable-next-line no-control-regex
      Effect.map((exit) => ({ code: Cli.exitCode(exit), err: err.join("\n").replace(/\u001b\[[0-9;]*m/g, "") }))
    )
  })

describe("Cli.options", () => {
  it.effect("reads the endpoints, CURVE keys, numbers, durations and log level", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "proxy-keys-"))
      writeFileSync(join(dir, "secret"), `# the proxy\n${"s".repeat(40)}\n`)
      writeFileSync(join(dir, "clients"), `${"c".repeat(40)} # laptop\n`)
      const parsed = yield* parse([
        "--pull",
        "tcp://127.0.0.1:5557",
        "--pub=tcp://127.0.0.1:5556",
        "--curve-secret-key-file",
        join(dir, "secret"),
        "--curve-authorized-key",
        "a".repeat(40),
        "--curve-authorized-keys-file",
        join(dir, "clients"),
        "--send-hwm",
        "500",
        "--settle",
        "0",
        "--hold-timeout",
        "2s",
        "--stats-interval",
        "30",
        "--log-level",
        "debug"
      ]).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true }))))
      expect(parsed).toStrictEqual({
        _tag: "Run",
        options: {
          pullAddress: "tcp://127.0.0.1:5557",
          publishAddress: "tcp://127.0.0.1:5556",
          curve: { secretKey: "s".repeat(40), authorizedKeys: ["a".repeat(40), "c".repeat(40)] },
          sendHighWaterMark: 500,
          settle: Duration.millis(0),
          holdTimeout: Duration.seconds(2),
          statsInterval: Duration.seconds(30)
        },
        logLevel: LogLevel.Debug
      })
      expect(yield* parse(["--pull", "a", "--pub", "b"])).toStrictEqual({
        _tag: "Run",
        options: { pullAddress: "a", publishAddress: "b" },
        logLevel: LogLevel.Info
      })
      expect(yield* parse(["--generate-key-pair"])).toStrictEqual({ _tag: "GenerateKeyPair" })
    }))

  it.effect("a usage error says what is wrong on one line, then the usage; status 2", () =>
    Effect.gen(function*() {
      const firstLine = (args: ReadonlyArray<string>) =>
        Effect.map(runInProcess(args), ({ code, err }) => {
          expect(code).toBe(2)
          const [what, blank, usage, ...rest] = err.split("\n")
          expect({ blank, usage, rest }).toStrictEqual({
            blank: "",
            usage: "Usage:",
            rest: [
              expect.stringMatching(/^ {2}channel-layer-zmq-proxy --pull ENDPOINT --pub ENDPOINT /),
              "  channel-layer-zmq-proxy [--generate-key-pair]",
              "More: channel-layer-zmq-proxy --help"
            ]
          })
          return what
        })
      expect(yield* firstLine(["--pull", "a"])).toBe("Expected to find option: '--pub'")
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--bogus"])).toBe("Received unknown argument: '--bogus'")
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--send-hwm", "1.5"])).toBe(
        "--send-hwm: \"1.5\" is not a whole number of 0 or more"
      )
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--settle", "soon"])).toBe(
        "--settle: \"soon\" is not a duration: write 500ms, 2s, 1m, 1h, \"2 seconds\", \"500 millis\" or a number of " +
          "milliseconds"
      )
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--log-level", "loud"])).toBe(
        "--log-level: \"loud\" is not one of all, trace, debug, info, warning, error, fatal, none"
      )
      expect(
        yield* firstLine([
          "--pull",
          "a",
          "--pub",
          "b",
          "--curve-secret-key",
          "k",
          "--curve-secret-key-file",
          "/dev/null"
        ])
      ).toBe("give --curve-secret-key or --curve-secret-key-file, not both")
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--curve-secret-key-file", "/dev/null"])).toBe(
        "--curve-secret-key-file: no key in /dev/null"
      )
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--curve-authorized-key", "k"])).toBe(
        "--curve-authorized-key and --curve-authorized-keys-file need --curve-secret-key (or its file)"
      )
      expect(yield* firstLine(["--pull", "a", "--pub", "b", "--curve-secret-key-file", "/nonexistent/key"])).toMatch(
        /^--curve-secret-key-file: cannot read \/nonexistent\/key: /
      )
    }))

  it("reads key files: one key per line, comments and blank lines ignored", () => {
    expect(Cli.keysOf("# clients\nkey-one\n\n  key-two  # laptop\r\n")).toEqual(["key-one", "key-two"])
  })
})

describe("the bin", () => {
  it.live(
    "--help prints plain help on stdout and exits 0; a bad argument exits 2 with the usage on stderr",
    () =>
      Effect.gen(function*() {
        const help = yield* run(["--help"])
        expect(help).toMatchObject({ code: 0, stderr: "" })
        expect(help.stdout).toContain("$ channel-layer-zmq-proxy --pull ENDPOINT --pub ENDPOINT")
        expect(help.stdout).not.toContain("\u001b[")
        const bad = yield* run(["--pull", "tcp://127.0.0.1:1"])
        expect(bad).toMatchObject({ code: 2, stdout: "" })
        expect(bad.stderr.split("\n").slice(0, 3)).toStrictEqual(["Expected to find option: '--pub'", "", "Usage:"])
      }),
    60_000
  )

  it.live("--generate-key-pair prints a CURVE key pair", () =>
    Effect.gen(function*() {
      const result = yield* run(["--generate-key-pair"])
      expect(result.code).toBe(0)
      const keys = JSON.parse(result.stdout)
      expect(keys.publicKey).toHaveLength(40)
      expect(keys.secretKey).toHaveLength(40)
    }), 30_000)

  it.live("an option the proxy refuses exits 1 and says why", () =>
    Effect.gen(function*() {
      const result = yield* run([
        "--pull",
        "tcp://127.0.0.1:*",
        "--pub",
        "tcp://127.0.0.1:*",
        "--curve-secret-key",
        "x"
      ])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("channel-layer-zmq-proxy: invalid option curve.secretKey")
    }), 30_000)

  it.live(
    "runs the proxy, logs on stderr only, and closes it cleanly on SIGTERM and on Ctrl-C to its group",
    () =>
      Effect.gen(function*() {
        // Ctrl-C signals the whole foreground process group: a launcher that forwarded it to a child
        // program made the child get two signals, and the second often killed it before it had closed its
        // sockets (exit 128). So the group case runs three times.
        const cases = [["SIGTERM", false], ["SIGINT", false], ["SIGINT", true], ["SIGINT", true], [
          "SIGINT",
          true
        ]] as const
        for (const [signal, group] of cases) {
          const [pull, pub] = yield* Effect.promise(() => freePorts(2))
          let sent = false
          const result = yield* run(["--pull", tcp(pull), "--pub", tcp(pub)], (output, child) => {
            if (!sent && output.includes("listening")) {
              sent = true
              // A moment later, as a person would: the proxy is idle, not still starting.
              setTimeout(() => process.kill(group ? -child.pid! : child.pid!, signal), 200)
            }
          })
          expect({ signal, group, code: result.code, stdout: result.stdout }).toStrictEqual({
            signal,
            group,
            code: 0,
            stdout: ""
          })
          const lines = result.stderr.trim().split("\n")
          expect(lines).toStrictEqual([
            expect.stringMatching(
              new RegExp(`^timestamp=\\S+ level=INFO .*message="proxy \\S+ listening: PULL on ${tcp(pull)}, PUB on `)
            ),
            expect.stringMatching(/level=INFO .*message="stopping: 0 messages forwarded"/)
          ])
        }
      }),
    60_000
  )

  it.live("started with an IPC channel, it stops cleanly when the channel closes", () =>
    Effect.gen(function*() {
      const [pull, pub] = yield* Effect.promise(() => freePorts(2))
      const ended = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            ["--conditions=channel-layer-source", "--import", tsx, program, "--pull", tcp(pull), "--pub", tcp(pub)],
            { stdio: ["ignore", "ignore", "pipe", "ipc"] }
          )
          let stderr = ""
          child.stderr!.on("data", (chunk: Buffer) => {
            stderr += chunk.toString()
            if (stderr.includes("listening") && child.connected) child.disconnect()
          })
          child.on("exit", (code) => resolve({ code, stderr }))
        })
      )
      expect(ended.code).toBe(0)
      expect(ended.stderr).toContain("stopping: 0 messages forwarded")
    }), 60_000)

  it("without its TypeScript sources (an installed package) the launcher runs dist/bin/proxy.js", () => {
    const dir = mkdtempSync(join(tmpdir(), "channel-layer-zmq-proxy-bin-"))
    try {
      mkdirSync(join(dir, "bin"))
      mkdirSync(join(dir, "dist/bin"), { recursive: true })
      cpSync(launcher, join(dir, "bin/channel-layer-zmq-proxy.js"))
      writeFileSync(join(dir, "package.json"), "{\"type\":\"module\"}")
      writeFileSync(
        join(dir, "dist/bin/proxy.js"),
        "process.stdout.write(`dist ${process.argv.slice(2).join(\" \")}`)\n"
      )
      const result = spawnSync(process.execPath, [join(dir, "bin/channel-layer-zmq-proxy.js"), "--pull", "x"], {
        encoding: "utf8"
      })
      expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toStrictEqual({
        status: 0,
        stdout: "dist --pull x",
        stderr: ""
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
