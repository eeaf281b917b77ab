/**
 * The Python layers as rows of the bench: Django's channels_rabbitmq and channels_redis, driven
 * through the same point-to-point, fan-out and latency scenarios as our layers by
 * `bench/python/channel_layer_peer.py`
 * (one JSON command per line on its stdin, one JSON answer per line on its stdout), in rounds
 * interleaved with ours so that both see the same machine.
 *
 * A peer runs when a Python that can import its layer is found: `$BENCH_PYTHON` when set,
 * otherwise `python3`, then Debian's `/usr/bin/python3`. channels_rabbitmq and its AMQP client
 * carehare are not packaged by Debian: put their sources on `PYTHONPATH` (see {@link layers}).
 * Without them, the rows that compare with it say they were not run and how to enable them.
 * @since 0.2.0
 */
import { Fifo } from "@channel-layer/core/Fifo"
import { Effect } from "effect"
import type { Scope } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { LatencySummary } from "./Stats.js"
import { summarize } from "./Stats.js"

/**
 * The Python layers the bench can drive: their module (and row label), and how to install them.
 * @since 0.2.0
 * @category names
 */
export const layers = {
  rabbitmq: {
    label: "channels_rabbitmq",
    enable: "apt-get install python3-django-channels python3-msgpack python3-pamqp, put the sources of " +
      "channels_rabbitmq 4 and carehare on PYTHONPATH (or set BENCH_PYTHON to a python3 that imports them)"
  },
  redis: {
    label: "channels_redis",
    enable: "apt-get install python3-channels-redis (or set BENCH_PYTHON to a python3 that imports it)"
  }
} as const

/**
 * @since 0.2.0
 * @category names
 */
export type Layer = keyof typeof layers

/**
 * A running Python peer: two channels_rabbitmq layers on the bench's broker, one sending, one
 * receiving. Commands run one at a time.
 * @since 0.2.0
 * @category models
 */
export interface PythonPeer {
  /** Milliseconds to move `count` messages to a channel of the other layer, `window` in flight. */
  readonly p2p: (window: number, count: number) => Effect.Effect<number, Error>
  /** `sends` group sends to `members` channels of the other layer, `window` in flight. */
  readonly fanout: (
    members: number,
    sends: number,
    window: number
  ) => Effect.Effect<{ readonly elapsedMs: number; readonly delivered: number }, Error>
  /** Send-to-delivery latency at `rate` messages a second for `seconds`, a task per send. */
  readonly latency: (rate: number, seconds: number) => Effect.Effect<LatencySummary, Error>
}

/**
 * The peer, or why it cannot run here.
 * @since 0.2.0
 * @category models
 */
export type Availability =
  | { readonly _tag: "Running"; readonly peer: PythonPeer }
  | { readonly _tag: "Unavailable"; readonly reason: string }

const script = fileURLToPath(new URL("../python/channel_layer_peer.py", import.meta.url))

/** The first Python that imports the layer's module, or what the last one said. */
const findPython = (module: string): { readonly python: string } | { readonly reason: string } => {
  const candidates = process.env.BENCH_PYTHON !== undefined
    ? [process.env.BENCH_PYTHON]
    : ["python3", "/usr/bin/python3"]
  let reason = "no python3 found"
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", `import ${module}, channels`], { encoding: "utf8", timeout: 20_000 })
    if (probe.error === undefined && probe.status === 0) return { python }
    reason = probe.error !== undefined
      ? `${python}: ${probe.error.message}`
      : `${python} cannot import ${module} (${probe.stderr.trim().split("\n").pop() ?? "no output"})`
  }
  return { reason }
}

/**
 * Starts the peer of `layer` on `url` in the scope (it quits when the scope closes), or says why
 * not.
 * @since 0.2.0
 * @category constructors
 */
export const open = (layer: Layer, url: string): Effect.Effect<Availability, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { enable, label } = layers[layer]
    const found = findPython(label)
    if ("reason" in found) return { _tag: "Unavailable", reason: `${found.reason}; to enable: ${enable}` } as const
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(found.python, [script, layer, url], { stdio: ["pipe", "pipe", "pipe"] })),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null) {
            child.stdin.end(JSON.stringify({ op: "quit" }) + "\n")
            setTimeout(() => child.kill(), 2_000).unref()
          }
        })
    )
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2_000)
    })
    // Answers come in the order of the commands: each waits for the next line.
    const waiting = new Fifo<(line: string | Error) => void>()
    const lines = createInterface({ input: child.stdout })
    lines.on("line", (line) => waiting.shift()?.(line))
    child.on("exit", (code) => {
      const error = new Error(`the Python peer exited (${code}): ${stderr.trim().split("\n").slice(-3).join(" / ")}`)
      for (let resume = waiting.shift(); resume !== undefined; resume = waiting.shift()) resume(error)
    })
    const nextAnswer = Effect.async<Record<string, unknown>, Error>((resume) => {
      waiting.push((line) => {
        if (line instanceof Error) return resume(Effect.fail(line))
        const answer = JSON.parse(line) as Record<string, unknown>
        resume(typeof answer.error === "string" ? Effect.fail(new Error(answer.error)) : Effect.succeed(answer))
      })
    })
    const command = (op: Record<string, unknown>) =>
      Effect.suspend(() => {
        child.stdin.write(JSON.stringify(op) + "\n")
        return nextAnswer
      })
    const ready = yield* nextAnswer.pipe(Effect.timeout("30 seconds"), Effect.either)
    if (ready._tag === "Left") {
      return { _tag: "Unavailable", reason: `the Python peer did not start: ${ready.left.message}` } as const
    }
    const peer: PythonPeer = {
      p2p: (window, count) => Effect.map(command({ op: "p2p", window, count }), (a) => a.elapsed_ms as number),
      fanout: (members, sends, window) =>
        Effect.map(command({ op: "fanout", members, sends, window }), (a) => ({
          elapsedMs: a.elapsed_ms as number,
          delivered: a.delivered as number
        })),
      latency: (rate, seconds) =>
        Effect.map(
          command({ op: "latency", rate, seconds }),
          (a) => summarize(a.latencies_ms as ReadonlyArray<number | null>)
        )
    }
    return { _tag: "Running", peer } as const
  })
