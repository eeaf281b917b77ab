import { ConfigProvider, Console, Effect } from "effect"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { Cli, Stdio } from "../src/index.js"

/** What the CLI wrote: each `Console.log` and `Console.error` call, log lines included. */
export interface Captured {
  readonly code: number
  readonly out: ReadonlyArray<string>
  readonly err: ReadonlyArray<string>
}

/**
 * Runs the CLI in this process on these arguments, with a console that records what it writes,
 * the environment variables given (and no others), and `stdin` for a MESSAGE of `-`.
 */
export const runCli = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly stdin?: string } = {}
): Effect.Effect<Captured> =>
  Console.consoleWith((console) => {
    const out: Array<string> = []
    const err: Array<string> = []
    const log = (...items: ReadonlyArray<unknown>) => void out.push(items.map(String).join(" "))
    const error = (...items: ReadonlyArray<unknown>) => void err.push(items.map(String).join(" "))
    return Cli.run(args).pipe(
      Effect.withConsole({
        ...console,
        log: (...items) => Effect.sync(() => log(...items)),
        error: (...items) => Effect.sync(() => error(...items)),
        unsafe: { ...console.unsafe, log, error }
      }),
      Effect.provide(Cli.layer),
      Effect.provideService(Stdio.Stdin, { readAll: Effect.succeed(options.stdin ?? "") }),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(options.env ?? {})))),
      Effect.exit,
      Effect.map((exit) => ({ code: Cli.exitCode(exit), out, err }))
    )
  })

const bin = fileURLToPath(new URL("../bin/channel-layer.js", import.meta.url))
/** The ZeroMQ package's proxy bin. */
export const zmqProxyBin = fileURLToPath(new URL("../../zeromq/bin/channel-layer-zmq-proxy.js", import.meta.url))

/** A running `channel-layer` process. */
export interface Running {
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** The exit status, or the signal that killed the process. */
  readonly exited: Promise<number | NodeJS.Signals | null>
  readonly waitForStderr: (text: string, timeoutMs?: number) => Promise<string>
  /** Waits for the text on stdout or stderr. */
  readonly waitForOutput: (text: string, timeoutMs?: number) => Promise<string>
  /** Waits until stdout holds `lines` lines. */
  readonly waitForLines: (lines: number, timeoutMs?: number) => Promise<string>
  readonly kill: (signal: NodeJS.Signals) => void
}

/** Starts the bin with these arguments (killed when the test's scope closes). */
export const start = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: { readonly input?: string; readonly ownProcessGroup?: boolean } = {}
) => startProgram(bin, args, env, options)

/**
 * Starts a node program with these arguments (killed when the test's scope closes). With
 * `ownProcessGroup`, the process leads a process group of its own, so that a signal sent to the
 * group reaches it the way Ctrl-C in a terminal does.
 */
export const startProgram = (
  program: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: { readonly input?: string; readonly ownProcessGroup?: boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const child = spawn(process.execPath, [program, ...args], {
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"],
        detached: options.ownProcessGroup === true
      })
      child.stdin.end(options.input ?? "")
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => stdout += String(chunk))
      child.stderr.on("data", (chunk) => stderr += String(chunk))
      const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(code ?? signal))
      )
      const waitFor = async (done: () => boolean, what: string, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs
        while (!done()) {
          if (Date.now() > deadline || child.exitCode !== null) {
            throw new Error(`no ${what} in the output; got stdout ${stdout} stderr ${stderr}`)
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return stdout + stderr
      }
      return {
        pid: child.pid!,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        kill: (signal) => void child.kill(signal),
        waitForStderr: (text, timeoutMs = 20_000) =>
          waitFor(() => stderr.includes(text), JSON.stringify(text), timeoutMs).then(() => stderr),
        waitForOutput: (text, timeoutMs = 20_000) =>
          waitFor(() => (stdout + stderr).includes(text), JSON.stringify(text), timeoutMs),
        waitForLines: (lines, timeoutMs = 20_000) =>
          waitFor(() => stdout.split("\n").length > lines, `${lines} lines`, timeoutMs).then(() => stdout)
      }
    }),
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
    const running = yield* start(args, env, input === undefined ? {} : { input })
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

/** The log lines (logfmt) of an output, as their `level` and `message`. */
export const logLines = (output: string) =>
  output.split("\n").filter((line) => line.startsWith("timestamp=")).map((line) => ({
    level: /level=(\w+)/.exec(line)?.[1],
    message: /message="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? /message=(\S+)/.exec(line)?.[1]
  }))
