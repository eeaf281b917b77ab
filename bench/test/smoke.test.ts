import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

// Runs the real CLI the way a user does: `npm run bench -- --quick --json --only <floors>`.
// Benchmarks never run as tests; this only checks that the harness works end to end (RabbitMQ
// must be up, as for the rest of the test suite). It writes to a temporary file, not latest.json.

const run = promisify(execFile)
const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const floors = ["floor-amqp-latency", "floor-zmq-latency"]
// A few transport scenarios of each kind, the quick ones: point to point in memory and over
// RabbitMQ (each with its floor run next to it), the RabbitMQ fan-out with its broker probe, the
// in-memory scale run.
const transportScenarios = [
  "p2p-in-memory-w100",
  "p2p-rabbitmq-w100",
  "fanout-in-memory",
  "fanout-rabbitmq",
  "scale-in-memory"
]

interface Row {
  readonly scenario: string
  readonly metric: string
  readonly value: number
  readonly floorValue?: number
}

interface Report {
  readonly date: string
  readonly machine: { readonly cpus: number; readonly node: string }
  readonly config: { readonly quick: boolean; readonly count: number }
  readonly scenarios: ReadonlyArray<{ readonly name: string; readonly error?: string }>
  readonly results: ReadonlyArray<Row>
}

describe("npm run bench --json", () => {
  let dir: string | undefined
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("measures every floor with positive rates, and a few transport scenarios", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "bench-smoke-"))
    const out = path.join(dir, "result.json")
    const { stdout } = await run(
      "npm",
      ["run", "bench", "--", "--quick", "--json", "--only", [...floors, ...transportScenarios].join(","), "--out", out],
      { cwd: benchDir, timeout: 55_000, maxBuffer: 16 * 1024 * 1024 }
    )
    // npm prints its "> script" banner on stdout before the program's output: the JSON is the last line.
    const lines = stdout.trim().split("\n")
    const report = JSON.parse(lines[lines.length - 1]) as Report
    expect(report.config.quick).toBe(true)
    expect(report.machine.cpus).toBeGreaterThan(0)
    expect(report.scenarios.map((s) => s.name)).toEqual([...floors, ...transportScenarios])
    expect(report.scenarios.filter((s) => s.error !== undefined)).toEqual([])
    const value = (scenario: string, metric: string) =>
      report.results.find((r) => r.scenario === scenario && r.metric === metric)?.value
    for (const floor of ["floor-amqp-latency", "floor-zmq-latency"]) {
      expect(value(floor, "p50 ms"), floor).toBeGreaterThan(0)
      expect(value(floor, "p99 ms")!, floor).toBeGreaterThanOrEqual(value(floor, "p50 ms")!)
    }
    for (const scenario of ["p2p-in-memory-w100", "p2p-rabbitmq-w100"]) {
      const row = report.results.find((r) => r.scenario === scenario && r.metric === "msg/s")
      expect(row?.value, scenario).toBeGreaterThan(0)
      expect(row?.floorValue, scenario).toBeGreaterThan(0)
    }
    expect(value("fanout-in-memory", "deliveries/s")).toBeGreaterThan(0)
    expect(value("fanout-rabbitmq", "deliveries/s")).toBeGreaterThan(0)
    // Read back from the broker: one publish per group send.
    expect(value("fanout-rabbitmq", "broker publishes/group send")).toBe(1)
    expect(value("scale-in-memory", "heap MiB, channels+groups")).toBeGreaterThan(0)
    expect(report.results.filter((r) => r.metric === "lost deliveries")).toEqual([])
    // The same document is written to --out.
    expect(JSON.parse(await readFile(out, "utf8"))).toEqual(report)
  }, 60_000)

  it("runs each scenario in a Node process of its own when not --quick", async () => {
    dir ??= await mkdtemp(path.join(os.tmpdir(), "bench-smoke-"))
    const out = path.join(dir, "isolated.json")
    const scenarios = ["p2p-in-memory-w1", "p2p-rabbitmq-w100"]
    const { stdout } = await run(
      "npm",
      ["run", "bench", "--", "--count", "500", "--json", "--only", scenarios.join(","), "--out", out],
      { cwd: benchDir, timeout: 55_000, maxBuffer: 16 * 1024 * 1024 }
    )
    const lines = stdout.trim().split("\n")
    const report = JSON.parse(lines[lines.length - 1]) as Report
    expect(report.config).toMatchObject({ quick: false, count: 500 })
    expect(report.scenarios.map((s) => [s.name, s.error])).toEqual(scenarios.map((name) => [name, undefined]))
    for (const scenario of scenarios) {
      const row = report.results.find((r) => r.scenario === scenario && r.metric === "msg/s")
      expect(row?.value, scenario).toBeGreaterThan(0)
      expect(row?.floorValue, scenario).toBeGreaterThan(0)
    }
  }, 60_000)
})
