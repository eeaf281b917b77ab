import type { Scope } from "effect"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"

/** The shared Redis of the tests (REDIS_URL, default 127.0.0.1:6379, database 0). */
export const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0"

/** A key prefix of a test's own, so that tests on the shared Redis never see each other's keys. */
export const testPrefix = (name = "t"): string => `test-${name}-${randomBytes(4).toString("hex")}:`

/**
 * A redis-server of the test's own, started with `args` (nothing saved to disk), killed when the
 * scope closes; succeeds once it accepts connections, fails with its output if it exits first.
 */
export const scratchServer = (args: ReadonlyArray<string>): Effect.Effect<void, Error, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.async<() => void, Error>((resume) => {
      const child = spawn("redis-server", [...args, "--save", "", "--appendonly", "no"])
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (/ready to accept connections/i.test(out)) resume(Effect.succeed(() => child.kill("SIGKILL")))
      })
      child.on("exit", () => resume(Effect.fail(new Error(`redis-server exited: ${out}`))))
    }),
    (stop) => Effect.sync(stop)
  ))
