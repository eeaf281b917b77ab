/**
 * Process memory after a full garbage collection, for the scale scenarios.
 *
 * `npm run bench` starts node with `--expose-gc`; without it (tsx run by hand) the collector is
 * exposed at run time through V8's flags.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

const exposed = (): () => void => {
  const existing = (globalThis as { gc?: () => void }).gc
  if (typeof existing === "function") return existing
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
}

let gc: (() => void) | undefined

/**
 * Memory of the process in bytes.
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Resident set size. */
  readonly rss: number
  /** V8 heap in use. */
  readonly heapUsed: number
  /** Memory of ArrayBuffers and Buffers outside the V8 heap. */
  readonly external: number
}

/**
 * Collects garbage (several full collections, with a turn of the event loop between them so that
 * finalizers and weak callbacks run) and then reads `process.memoryUsage()`.
 * @since 0.1.0
 * @category memory
 */
export const afterGc: Effect.Effect<Snapshot> = Effect.gen(function*() {
  gc ??= exposed()
  for (let i = 0; i < 3; i++) {
    gc()
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }
  gc()
  const { external, heapUsed, rss } = process.memoryUsage()
  return { rss, heapUsed, external }
})

/**
 * Bytes as MiB.
 * @since 0.1.0
 * @category memory
 */
export const mib = (bytes: number): number => bytes / 2 ** 20
