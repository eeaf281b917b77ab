// The channel-layer-zmq-proxy command: argument parsing, and the launcher in bin/ that runs the
// TypeScript sources through tsx in a repository checkout.
import { Either } from "effect"
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import * as Cli from "../src/internal/Cli.js"
import { freePorts, tcp } from "./support/ports.js"

const launcher = new URL("../bin/channel-layer-zmq-proxy.js", import.meta.url).pathname

const run = (args: ReadonlyArray<string>, onOutput?: (output: string, child: ReturnType<typeof spawn>) => void) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [launcher, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      onOutput?.(output, child)
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    child.on("exit", (code, signal) => resolve({ code, signal, output }))
  })

describe("Cli.parse", () => {
  it("reads the endpoints, CURVE keys and numbers", () => {
    const parsed = Cli.parse([
      "--pull",
      "tcp://127.0.0.1:5557",
      "--pub=tcp://127.0.0.1:5556",
      "--curve-secret-key-file",
      "/run/secrets/proxy",
      "--curve-authorized-key",
      "a".repeat(40),
      "--curve-authorized-key",
      "b".repeat(40),
      "--send-hwm",
      "500",
      "--settle",
      "0",
      "--log-level",
      "debug"
    ])
    expect(parsed).toEqual(Either.right({
      _tag: "Run",
      arguments: {
        pullAddress: "tcp://127.0.0.1:5557",
        publishAddress: "tcp://127.0.0.1:5556",
        curveSecretKeyFile: "/run/secrets/proxy",
        curveAuthorizedKeys: ["a".repeat(40), "b".repeat(40)],
        sendHighWaterMark: 500,
        settleMillis: 0,
        logLevel: "debug"
      }
    }))
  })

  it("says what is wrong", () => {
    expect(Cli.parse([])).toEqual(Either.left("--pull and --pub are required"))
    expect(Cli.parse(["--pull"])).toEqual(Either.left("--pull needs a value"))
    expect(Cli.parse(["--bogus"])).toEqual(Either.left(`unknown argument "--bogus"`))
    expect(Cli.parse(["--pull", "a", "--pull", "b"])).toEqual(Either.left("--pull given twice"))
    expect(Cli.parse(["--pull", "a", "--pub", "b", "--send-hwm", "1.5"])).toEqual(
      Either.left(`--send-hwm needs a whole number of zero or more, got "1.5"`)
    )
    expect(Cli.parse(["--pull", "a", "--pub", "b", "--log-level", "loud"])._tag).toBe("Left")
    expect(Cli.parse(["--pull", "a", "--help"])).toEqual(Either.right({ _tag: "Help" }))
  })

  it("reads key files: one key per line, comments and blank lines ignored", () => {
    expect(Cli.keysOf("# clients\nkey-one\n\n  key-two  # laptop\r\n")).toEqual(["key-one", "key-two"])
  })
})

describe("the bin", () => {
  it("--help prints the usage and exits 0; a bad argument exits 2 with the usage", async () => {
    const help = await run(["--help"])
    expect(help.code).toBe(0)
    expect(help.output).toContain("Usage: channel-layer-zmq-proxy --pull <endpoint> --pub <endpoint>")
    const bad = await run(["--pull", "tcp://127.0.0.1:1"])
    expect(bad.code).toBe(2)
    expect(bad.output).toContain("--pull and --pub are required")
    expect(bad.output).toContain("Usage:")
  }, 30_000)

  it("--generate-key-pair prints a CURVE key pair", async () => {
    const result = await run(["--generate-key-pair"])
    expect(result.code).toBe(0)
    const keys = JSON.parse(result.output)
    expect(keys.publicKey).toHaveLength(40)
    expect(keys.secretKey).toHaveLength(40)
  }, 30_000)

  it("an option the proxy refuses exits 1 and says why", async () => {
    const result = await run(["--pull", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*", "--curve-secret-key", "x"])
    expect(result.code).toBe(1)
    expect(result.output).toContain("invalid option curve.secretKey")
  }, 30_000)

  it("runs the proxy and stops cleanly on SIGTERM", async () => {
    const [pull, pub] = await freePorts(2)
    const result = await run(["--pull", tcp(pull), "--pub", tcp(pub)], (output, child) => {
      if (output.includes("listening") && !output.includes("stopping")) child.kill("SIGTERM")
    })
    expect(result.output).toContain(`PULL on ${tcp(pull)}, PUB on ${tcp(pub)}`)
    expect(result.output).toContain("stopping: 0 messages forwarded")
    expect(result.code).toBe(0)
  }, 30_000)
})
