import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { Commands } from "../src/index.js"

/** An `Output` that records what the program writes, with `stdin` as given. */
export const captureOutput = (stdin = "") => {
  const out: Array<string> = []
  const err: Array<string> = []
  const layer = Layer.succeed(Commands.Output, {
    out: (line) => Effect.sync(() => void out.push(line)),
    err: (line) => Effect.sync(() => void err.push(line)),
    stdin: Effect.succeed(stdin)
  })
  return { out, err, layer }
}

const bin = fileURLToPath(new URL("../bin/channel-layer.js", import.meta.url))
/** The ZeroMQ package's proxy bin. */
export const zmqProxyBin = fileURLToPath(new URL("../../zeromq/bin/channel-layer-zmq-proxy.js", import.meta.url))

/** A running `channel-layer` process. */
export interface Running {
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  readonly waitForStderr: (text: string, timeoutMs?: number) => Promise<string>
  /** Waits for the text on stdout or stderr. */
  readonly waitForOutput: (text: string, timeoutMs?: number) => Promise<string>
  readonly kill: (signal: NodeJS.Signals) => void
}

/** Starts the bin with these arguments (killed when the test's scope closes). */
export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input?: string) =>
  startProgram(bin, args, env, input)

/** Starts a node program with these arguments (killed when the test's scope closes). */
export const startProgram = (
  program: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  input?: string
) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const child = spawn(process.execPath, [program, ...args], {
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      child.stdin.end(input ?? "")
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => stdout += String(chunk))
      child.stderr.on("data", (chunk) => stderr += String(chunk))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const waitFor = async (read: () => string, text: string, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs
        while (!read().includes(text)) {
          if (Date.now() > deadline || child.exitCode !== null) {
            throw new Error(`no ${JSON.stringify(text)} in the output; got ${stdout}${stderr}`)
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return read()
      }
      return {
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        kill: (signal) => void child.kill(signal),
        waitForStderr: (text, timeoutMs = 20_000) => waitFor(() => stderr, text, timeoutMs),
        waitForOutput: (text, timeoutMs = 20_000) => waitFor(() => stdout + stderr, text, timeoutMs)
      }
    }),
    // The bins are launchers that forward SIGTERM to their program: a SIGKILL would orphan it.
    (running) =>
      Effect.promise(async () => {
        running.kill("SIGTERM")
        const exited = await Promise.race([running.exited.then(() => true), sleep(5_000).then(() => false)])
        if (!exited) running.kill("SIGKILL")
      })
  )

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs the bin to completion: its status and output. */
export const runBin = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* start(args, env, input)
    const code = yield* Effect.promise(() => running.exited)
    return { code, stdout: running.stdout(), stderr: running.stderr() }
  }))

/** A free TCP port on 127.0.0.1. */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})
