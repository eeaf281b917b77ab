/**
 * A TypeScript program of the repository in a child process of its own (Node with tsx and the
 * `channel-layer-source` condition, as the tests run them), its output appended to a log file,
 * with an IPC channel. Closing the scope ends it: SIGTERM, then SIGKILL if it is still there 10 s
 * later. The IPC channel also ends it when this process dies without closing the scope: the
 * workers and the ZeroMQ proxy stop when their channel disconnects.
 */
import type { Scope } from "effect"
import { Data, Deferred, Duration, Effect, Exit, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The chaos workspace's directory. */
export const chaosDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

/** How a child process ended. */
export interface Ended {
  readonly code: number | null
  readonly signal: string | null
}

export const describeEnd = (ended: Ended): string =>
  ended.signal === null ? `exit status ${ended.code}` : `signal ${ended.signal}`

export interface Spawned {
  readonly child: ChildProcess
  readonly logFile: string
  /** Waits until the process has ended. */
  readonly ended: Effect.Effect<Ended>
  /** How the process ended, if it has. */
  readonly endedYet: Effect.Effect<Option.Option<Ended>>
  /** Sends `signal` and waits until the process has ended. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** The last lines of its log, for error messages. */
  readonly logTail: Effect.Effect<string>
}

const tsxLoader = import.meta.resolve("tsx")

const gracePeriod = Duration.seconds(10)

export const spawnTs = (
  file: string,
  args: ReadonlyArray<string>,
  logFile: string
): Effect.Effect<Spawned, SpawnError, Scope.Scope> =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<Ended>()
    const child = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const out = fs.openSync(logFile, "a")
          try {
            return spawn(
              process.execPath,
              ["--conditions=channel-layer-source", "--import", tsxLoader, file, ...args],
              { cwd: chaosDir, stdio: ["ignore", out, out, "ipc"] }
            )
          } finally {
            fs.closeSync(out)
          }
        },
        catch: (cause) => new SpawnError({ message: `cannot start ${file}: ${String(cause)}` })
      }).pipe(Effect.tap((child) =>
        Effect.sync(() => {
          child.once("exit", (code, signal) => Deferred.unsafeDone(ended, Exit.succeed({ code, signal })))
          child.once("error", () => Deferred.unsafeDone(ended, Exit.succeed({ code: null, signal: null })))
        })
      )),
      (child) => terminate(child, ended)
    )
    const logTail = Effect.promise(() =>
      fs.promises.readFile(logFile, "utf8").then(
        (text) => text.trimEnd().split("\n").slice(-30).join("\n"),
        () => "(no output)"
      )
    )
    return {
      child,
      logFile,
      ended: Deferred.await(ended),
      endedYet: Deferred.poll(ended).pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.succeedNone, onSome: Effect.asSome }))
      ),
      kill: (signal) =>
        Effect.sync(() => child.kill(signal)).pipe(
          Effect.zipRight(Deferred.await(ended)),
          Effect.asVoid
        ),
      logTail
    }
  })

const terminate = (child: ChildProcess, ended: Deferred.Deferred<Ended>): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (yield* Deferred.isDone(ended)) return
    child.kill("SIGTERM")
    const gone = yield* Deferred.await(ended).pipe(Effect.timeout(gracePeriod), Effect.option)
    if (Option.isNone(gone)) {
      child.kill("SIGKILL")
      yield* Deferred.await(ended)
    }
  })
