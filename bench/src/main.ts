/**
 * `npm run bench -- [--quick] [--json] [--only name,...] [--list] [--out file]`
 *
 * Runs the floors and every wired transport, one scenario after the other, each in a fresh Node
 * process of its own (the same flags, `--child <name>`): a scenario that moved a million messages
 * leaves a large heap and code optimised for its own shapes behind, which slowed the next one by up
 * to a tenth. Then prints the table (stdout; stderr with `--json`) and writes
 * `bench/results/latest.json`. Within a scenario, senders and receivers share one event loop, for
 * the floors and the transports alike. `--in-process` runs every scenario in this process.
 * `npm run` prints its banner on stdout: use `npm run -s bench -- --json` for JSON alone.
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdir, writeFile } from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { floors } from "./Floors.js"
import { redactUrl } from "./floors/RawAmqp.js"
import { Progress } from "./Progress.js"
import type { Report, ScenarioOutcome } from "./Report.js"
import { machine, rows, table } from "./Report.js"
import type { BenchConfig, Measurement, Scenario } from "./Scenario.js"
import * as Transports from "./Transports.js"
import * as ZmqProxy from "./ZmqProxy.js"

const usage = `usage: npm run bench -- [options]

  --quick           smaller counts, short latency runs, one process (whole run under a minute)
  --json            print only the JSON result on stdout (the table goes to stderr)
  --only a,b,...    run these scenarios (globs with * allowed) and the floors they need
  --list            list the scenarios and exit
  --count N         messages per throughput measurement (default 20000; quick 3000)
  --out FILE        where to write the JSON (default bench/results/latest.json)
  --amqp-url URL    broker of the raw amqplib floors (default $AMQP_URL or amqp://guest:guest@127.0.0.1:5672/asgi)
  --in-process      run every scenario in this process (default without --quick: each in a fresh one)
`

const defaultOut = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "results", "latest.json")

const parse = () => {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      only: { type: "string" },
      list: { type: "boolean", default: false },
      count: { type: "string" },
      out: { type: "string" },
      "amqp-url": { type: "string" },
      "in-process": { type: "boolean", default: false },
      // Internal: run only this scenario, print its outcome as JSON, show progress as position i/n.
      child: { type: "string" },
      position: { type: "string" },
      help: { type: "boolean", short: "h", default: false }
    },
    strict: true
  })
  const quick = values.quick === true
  const count = values.count !== undefined ? Number(values.count) : quick ? 3_000 : 20_000
  if (!Number.isInteger(count) || count <= 0) throw new Error(`--count must be a positive integer, got ${values.count}`)
  const config: BenchConfig = {
    quick,
    count,
    warmup: Math.min(1_000, Math.max(100, Math.ceil(count / 10))),
    latencyRate: 1_000,
    latencySeconds: quick ? 2 : 10,
    amqpUrl: values["amqp-url"] ?? process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672/asgi",
    timeoutMs: quick ? 30_000 : 180_000
  }
  return {
    config,
    json: values.json === true,
    list: values.list === true,
    help: values.help === true,
    only: values.only?.split(",").map((s) => s.trim()).filter((s) => s.length > 0),
    out: values.out ?? defaultOut,
    // A quick run is a smoke run: starting a process per scenario would take half of its minute.
    inProcess: values["in-process"] === true || quick,
    child: values.child,
    position: values.position
  }
}

const displayPath = (file: string) => {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith("..") ? file : relative
}

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)

/** The scenarios `--only` asks for plus, transitively, the ones they require, in registry order. */
const select = (all: ReadonlyArray<Scenario>, only: ReadonlyArray<string> | undefined): ReadonlyArray<Scenario> => {
  if (only === undefined) return all
  const wanted = new Set<string>()
  for (const pattern of only) {
    const regexp = globToRegExp(pattern)
    const matches = all.filter((s) => regexp.test(s.name))
    if (matches.length === 0) {
      throw new Error(`--only ${pattern} matches no scenario; known: ${all.map((s) => s.name).join(", ")}`)
    }
    for (const s of matches) wanted.add(s.name)
  }
  const byName = new Map(all.map((s) => [s.name, s]))
  const pending = [...wanted]
  while (pending.length > 0) {
    for (const required of byName.get(pending.pop()!)?.requires ?? []) {
      if (!wanted.has(required) && byName.has(required)) {
        wanted.add(required)
        pending.push(required)
      }
    }
  }
  return all.filter((s) => wanted.has(s.name))
}

const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

const main = async () => {
  const args = parse()
  if (args.help) {
    process.stdout.write(usage)
    return 0
  }
  // Resources shared by the scenarios of this run (the ZeroMQ proxy), closed when the run ends.
  const runScope = Effect.runSync(Scope.make())
  const shared: Transports.Shared = {
    proxy: Effect.runSync(Effect.cached(Scope.extend(ZmqProxy.start, runScope)))
  }
  try {
    return await runAll(args, shared)
  } finally {
    await Effect.runPromise(Scope.close(runScope, Exit.void))
  }
}

interface Ran {
  readonly outcome: ScenarioOutcome
  readonly measurements: ReadonlyArray<Measurement>
}

/** Runs one scenario in this process, within the scenario timeout. */
const runScenario = async (
  scenario: Scenario,
  config: BenchConfig,
  progress: Progress,
  index: number
): Promise<Ran> => {
  progress.start(index, scenario.name)
  const started = performance.now()
  const exit = await Effect.runPromiseExit(
    Effect.scoped(scenario.run({
      config,
      progress: (done, total) => progress.update(done, total),
      phase: (label) => progress.phase(label)
    })).pipe(Effect.timeoutFail({
      duration: Duration.millis(config.timeoutMs),
      onTimeout: () => new Error(`timed out after ${config.timeoutMs} ms`)
    }))
  )
  const durationMs = performance.now() - started
  const base = { name: scenario.name, description: scenario.description, durationMs }
  if (Exit.isSuccess(exit)) {
    progress.finish(`done in ${(durationMs / 1000).toFixed(1)} s`)
    const { details, measurements, notes } = exit.value
    return { outcome: { ...base, details, ...(notes !== undefined ? { notes } : {}) }, measurements }
  }
  progress.finish(`ERROR ${errorText(exit.cause)}`)
  return { outcome: { ...base, error: errorText(exit.cause) }, measurements: [] }
}

/**
 * Runs one scenario in a fresh Node process with this process's flags (tsx's loader included) and
 * the same config; its progress goes to our stderr, its outcome comes back as JSON on its stdout.
 */
const runInChild = (scenario: Scenario, args: ReturnType<typeof parse>, position: string): Promise<Ran> =>
  new Promise((resolve) => {
    const { config } = args
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1],
        ...(config.quick ? ["--quick"] : []),
        ["--count", String(config.count)],
        ["--amqp-url", config.amqpUrl],
        ["--child", scenario.name],
        ["--position", position]
      ].flat(),
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const failed = (error: string): Ran => ({
      outcome: {
        name: scenario.name,
        description: scenario.description,
        durationMs: performance.now() - started,
        error
      },
      measurements: []
    })
    child.once("error", (error) => resolve(failed(`cannot start the scenario's process: ${error.message}`)))
    child.once("close", (code, signal) => {
      const last = stdout.trim().split("\n").pop() ?? ""
      try {
        resolve(JSON.parse(last) as Ran)
      } catch {
        resolve(failed(`the scenario's process ended (${signal ?? `exit code ${code}`}) without a result`))
      }
    })
  })

const runAll = async (args: ReturnType<typeof parse>, shared: Transports.Shared) => {
  const { config } = args
  const all = [...floors, ...Transports.scenarios(config, shared)]
  if (args.list) {
    for (const s of all) process.stdout.write(`${s.name.padEnd(28)} ${s.description}\n`)
    return 0
  }
  if (args.child !== undefined) {
    const scenario = all.find((s) => s.name === args.child)
    if (scenario === undefined) throw new Error(`--child ${args.child}: no such scenario`)
    const [index, total] = (args.position ?? "1/1").split("/").map(Number)
    const ran = await runScenario(scenario, config, new Progress(total), index)
    process.stdout.write(`${JSON.stringify(ran)}\n`)
    return 0
  }
  const selected = select(all, args.only)
  const loadAtStart = os.loadavg()
  const progress = new Progress(selected.length)
  const measurements: Array<Measurement> = []
  const outcomes: Array<ScenarioOutcome> = []
  for (const [i, scenario] of selected.entries()) {
    const ran = args.inProcess
      ? await runScenario(scenario, config, progress, i + 1)
      : await runInChild(scenario, args, `${i + 1}/${selected.length}`)
    measurements.push(...ran.measurements)
    outcomes.push(ran.outcome)
  }
  const results = rows(measurements)
  const report: Report = {
    date: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: loadAtStart, end: os.loadavg() },
    config: { ...config, amqpUrl: redactUrl(config.amqpUrl) },
    scenarios: outcomes,
    results
  }
  const failures = outcomes.filter((o) => o.error !== undefined)
  // The run itself adds about one core of load, so only the load before it counts as "others".
  const busy = loadAtStart[0] > report.machine.cpus / 2
  // One line per note, once: the scenarios of a transport share a reason (the Python peer's).
  const notes = [...new Set(outcomes.flatMap((o) => o.notes ?? []))]
  const text = table(results, failures, { quick: config.quick }) + notes.map((note) => `\nnote: ${note}`).join("") +
    (busy
      ? `\n\nnote: load average ${loadAtStart[0].toFixed(1)} on ${report.machine.cpus} CPUs before the run: ` +
        "other processes may have skewed these numbers"
      : "")
  await mkdir(path.dirname(args.out), { recursive: true })
  await writeFile(args.out, JSON.stringify(report, null, 2) + "\n")
  if (args.json) {
    process.stderr.write(`${text}\n`)
    process.stdout.write(JSON.stringify(report) + "\n")
  } else {
    const m = report.machine
    process.stdout.write(
      `\n${report.date}  ${m.cpus} x ${m.model}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${m.node}` +
        `${config.quick ? "  (quick)" : ""}\n\n${text}\n\nwrote ${displayPath(args.out)}\n`
    )
  }
  return failures.length > 0 ? 1 : 0
}

main().then(
  (code) => {
    process.exitCode = code
    // Sockets are closed by now; this only guards against a stray handle keeping the process up.
    setTimeout(() => process.exit(code), 2_000).unref()
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
    process.exit(2)
  }
)
