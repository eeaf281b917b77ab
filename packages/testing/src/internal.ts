/**
 * Plumbing shared by the test-support modules: running a command, temporary
 * directories, log excerpts, and a live clock.
 */
import type { Scope } from "effect"
import { Clock, Data, Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * Runs `effect` on the real clock. `it.scoped` installs the `TestClock`, under which a sleep, a
 * timeout or a retry schedule never fires unless the test advances the clock: the support
 * utilities wait on real processes and sockets, so they always use wall-clock time.
 */
export const withLiveClock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withClock(effect, liveClock)

const liveClock = Clock.make()

/** A command that could not be run, ran too long, or exited with a non-zero status. */
export class ExecError extends Data.TaggedError("ExecError")<{
  readonly reason: "Spawn" | "Timeout" | "Exit"
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  readonly message: string
}> {}

/** Options of {@link exec}. */
export interface ExecOptions {
  readonly env?: NodeJS.ProcessEnv | undefined
  readonly cwd?: string | undefined
  /** Milliseconds before the command is killed (default 60 000). */
  readonly timeoutMs?: number | undefined
}

/** Runs a command without a shell and collects its output; interruption kills it. */
export const exec = (
  command: string,
  args: ReadonlyArray<string>,
  options: ExecOptions = {}
): Effect.Effect<{ readonly stdout: string; readonly stderr: string }, ExecError> =>
  Effect.async((resume) => {
    const timeoutMs = options.timeoutMs ?? 60_000
    const child = execFile(
      command,
      [...args],
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8"
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resume(Effect.succeed({ stdout, stderr }))
          return
        }
        const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: unknown }
        const shown = [command, ...args].join(" ")
        if (typeof failure.code === "string") {
          resume(Effect.fail(
            new ExecError({
              reason: "Spawn",
              command,
              args,
              exitCode: null,
              stdout,
              stderr,
              message: `could not run ${shown}: ${failure.message}`
            })
          ))
        } else if (failure.killed === true) {
          resume(Effect.fail(
            new ExecError({
              reason: "Timeout",
              command,
              args,
              exitCode: null,
              stdout,
              stderr,
              message: `${shown} did not finish within ${timeoutMs} ms`
            })
          ))
        } else {
          const exitCode = typeof failure.code === "number" ? failure.code : null
          resume(Effect.fail(
            new ExecError({
              reason: "Exit",
              command,
              args,
              exitCode,
              stdout,
              stderr,
              message: `${shown} exited with status ${exitCode}: ${firstLines(stderr || stdout, 15)}`
            })
          ))
        }
      }
    )
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })

const firstLines = (text: string, count: number): string => text.trim().split("\n").slice(0, count).join("\n")

/**
 * The first `head` and last `tail` lines of a file (all of it when short), or a note saying it
 * could not be read. Boot failures are explained at the top of RabbitMQ's output, crashes at the
 * end of its log.
 */
export const fileExcerpt = (file: string, head: number, tail: number): Effect.Effect<string> =>
  Effect.promise(() =>
    fs.promises.readFile(file, "utf8").then(
      (text) => {
        const lines = text.trimEnd().split("\n")
        if (lines.length <= head + tail) return lines.join("\n")
        return [...lines.slice(0, head), `[... ${lines.length - head - tail} lines ...]`, ...lines.slice(-tail)]
          .join("\n")
      },
      (error: unknown) => `(cannot read ${file}: ${String(error)})`
    )
  )

/** A fresh directory under the OS temporary directory, deleted with everything in it when the scope closes. */
export const makeTempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => fs.promises.mkdtemp(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.promise(() => fs.promises.rm(dir, { recursive: true, force: true }))
  )
