/**
 * The proxy of the dedicated ZeroMQ transport for the benchmarks: the `channel-layer-zmq-proxy`
 * bin in a child process, as it runs in production (its own process, so its forwarding does not
 * share the event loop of the sender and the receiver it serves), on two free loopback ports.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * A running proxy.
 * @since 0.1.0
 * @category models
 */
export interface Proxy {
  readonly pullAddress: string
  readonly publishAddress: string
  readonly pid: number | undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => typeof address === "object" && address !== null ? resolve(address.port) : reject(address))
    })
  })

/** The launcher of the bin: the package's `bin/channel-layer-zmq-proxy.js`. */
const binPath = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.resolve("@channel-layer/zeromq")))
  for (;;) {
    const candidate = path.join(dir, "bin", "channel-layer-zmq-proxy.js")
    if (existsSync(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error("cannot find the channel-layer-zmq-proxy bin of @channel-layer/zeromq")
    dir = parent
  }
}

const stop = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

/**
 * Starts the proxy and waits until it listens; stops it (SIGTERM, then SIGKILL after 5 s) when the
 * scope closes.
 * @since 0.1.0
 * @category resources
 */
export const start: Effect.Effect<Proxy, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.tryPromise({
    try: async () => {
      const pullAddress = `tcp://127.0.0.1:${await freePort()}`
      const publishAddress = `tcp://127.0.0.1:${await freePort()}`
      const child = spawn(
        process.execPath,
        [binPath(), "--pull", pullAddress, "--pub", publishAddress, "--settle", "0", "--log-level", "info"],
        { stdio: ["ignore", "pipe", "pipe"] }
      )
      let output = ""
      const ready = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s; output: ${output}`)), 30_000)
        const onData = (data: Buffer) => {
          // Keep the tail for error messages; the pipes are drained for the proxy's whole life.
          output = (output + data.toString()).slice(-2_000)
          if (output.includes("listening")) {
            clearTimeout(timer)
            resolve()
          }
        }
        child.stdout!.on("data", onData)
        child.stderr!.on("data", onData)
        child.once("exit", (code, signal) => {
          clearTimeout(timer)
          reject(new Error(`the proxy exited (${signal ?? code}) before listening; output: ${output}`))
        })
      })
      try {
        await ready
      } catch (error) {
        await stop(child)
        throw error
      }
      return { child, proxy: { pullAddress, publishAddress, pid: child.pid } }
    },
    catch: (cause) => new Error(`cannot start channel-layer-zmq-proxy: ${String(cause)}`, { cause })
  }),
  ({ child }) => Effect.promise(() => stop(child))
).pipe(Effect.map(({ proxy }) => proxy))
