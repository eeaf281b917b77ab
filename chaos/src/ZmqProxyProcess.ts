/**
 * The ZeroMQ proxy of the dedicated run, `channel-layer-zmq-proxy` as a child process on two
 * fixed ports, that the run kills with SIGKILL and starts again on the same ports.
 *
 * The program is started the way the bin's launcher starts it in a checkout (Node with tsx on
 * packages/zeromq/src/bin/proxy.ts, an IPC channel so that it stops if this process dies), but
 * without the launcher in between: SIGKILL then hits the proxy itself, not a launcher that would
 * leave its child to stop cleanly.
 */
import { Ports } from "@channel-layer/testing"
import { Data, Effect, Ref, Schedule, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Spawned, spawnTs } from "./Spawn.js"

export class ProxyError extends Data.TaggedError("ProxyError")<{ readonly message: string }> {}

export interface ZmqProxy {
  readonly pullAddress: string
  readonly publishAddress: string
  /** Starts a proxy on the ports and waits until it listens. */
  readonly start: Effect.Effect<void, ProxyError>
  /** Kills the running proxy with SIGKILL. */
  readonly kill: Effect.Effect<void>
}

const proxyProgram = path.join(
  path.dirname(fileURLToPath(import.meta.resolve("@channel-layer/zeromq"))),
  "bin",
  "proxy.ts"
)

/** Processes started are stopped (SIGTERM) when the scope closes, if still running. */
export const make = (
  options: { readonly pullPort: number; readonly publishPort: number; readonly logDir: string }
): Effect.Effect<ZmqProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const running = yield* Ref.make<ReadonlyArray<Spawned>>([])
    const pullAddress = Ports.tcp(options.pullPort)
    const publishAddress = Ports.tcp(options.publishPort)

    const waitUntilListening = (proxy: Spawned) =>
      Effect.promise(() => fs.promises.readFile(proxy.logFile, "utf8").catch(() => "")).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (log) => log.includes("listening") }),
        Effect.timeoutFail({
          duration: "30 seconds",
          onTimeout: () => new ProxyError({ message: `the proxy did not listen within 30 s (log ${proxy.logFile})` })
        })
      )

    const start = Effect.gen(function*() {
      const number = (yield* Ref.get(running)).length + 1
      const proxy = yield* spawnTs(
        proxyProgram,
        ["--pull", pullAddress, "--pub", publishAddress, "--log-level", "info"],
        path.join(options.logDir, `proxy-${number}.log`)
      ).pipe(
        Effect.mapError((error) => new ProxyError({ message: error.message })),
        Scope.extend(scope)
      )
      yield* Ref.update(running, (all) => [...all, proxy])
      yield* waitUntilListening(proxy)
    })

    const kill = Effect.flatMap(Ref.get(running), (all) => all[all.length - 1]?.kill("SIGKILL") ?? Effect.void)

    return { pullAddress, publishAddress, start, kill }
  })
