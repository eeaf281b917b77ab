/**
 * Turns measurements into rows (floor value, ratio, target, pass), prints the table and builds the
 * JSON document written to `bench/results/latest.json`.
 * @since 0.1.0
 */
import * as os from "node:os"
import type { BenchConfig, FloorRef, Measurement, Target } from "./Scenario.js"

/**
 * A measurement with its comparison resolved. `ratio` is value / floor value; `pass` is absent when
 * the row has no target or its floor did not run.
 * @since 0.1.0
 * @category models
 */
export interface Row extends Measurement {
  readonly floorValue?: number
  readonly ratio?: number
  readonly targetText?: string
  readonly pass?: boolean
}

/**
 * How one scenario went, for the JSON file.
 * @since 0.1.0
 * @category models
 */
export interface ScenarioOutcome {
  readonly name: string
  readonly description: string
  readonly durationMs: number
  readonly details?: Record<string, unknown>
  /** What the scenario could not measure on this machine, and why (printed under the table). */
  readonly notes?: ReadonlyArray<string>
  readonly error?: string
}

/**
 * The machine the numbers come from.
 * @since 0.1.0
 * @category models
 */
export interface Machine {
  readonly cpus: number
  readonly model: string
  readonly memoryBytes: number
  readonly node: string
  readonly platform: string
  readonly arch: string
  readonly release: string
}

/**
 * The JSON document of one run.
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly date: string
  readonly machine: Machine
  /** 1, 5 and 15 minute load averages before and after the run: other work on the machine skews the numbers. */
  readonly loadAverage: { readonly start: ReadonlyArray<number>; readonly end: ReadonlyArray<number> }
  readonly config: BenchConfig
  readonly scenarios: ReadonlyArray<ScenarioOutcome>
  readonly results: ReadonlyArray<Row>
}

/**
 * Describes this machine.
 * @since 0.1.0
 * @category constructors
 */
export const machine = (): Machine => {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? "unknown",
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: os.platform(),
    arch: os.arch(),
    release: os.release()
  }
}

/**
 * Human form of a target, relative to the floor where it has one.
 * @since 0.1.0
 * @category formatting
 */
export const describeTarget = (target: Target): string => {
  switch (target.kind) {
    case "ratio-at-least":
      return `>= ${target.value} x floor`
    case "floor-plus-at-most":
      return target.relativeTo === undefined
        ? `<= floor + ${target.value}`
        : `<= ${target.relativeTo.scenario} + ${target.value}`
    case "at-least":
      return `>= ${formatNumber(target.value)}`
    case "at-most":
      return `<= ${formatNumber(target.value)}`
    case "equals":
      return `= ${formatNumber(target.value)}`
  }
}

const check = (target: Target, value: number, floor: number | undefined): boolean | undefined => {
  switch (target.kind) {
    case "ratio-at-least":
      return floor === undefined || floor <= 0 ? undefined : value / floor >= target.value
    case "floor-plus-at-most":
      return floor === undefined ? undefined : value <= floor + target.value
    case "at-least":
      return value >= target.value
    case "at-most":
      return value <= target.value
    case "equals":
      return value === target.value
  }
}

/**
 * What names one measurement of a run: its scenario and its metric.
 * @since 0.1.0
 * @category rows
 */
export const measurementKey = (ref: FloorRef): string => `${ref.scenario}\u0000${ref.metric}`

/**
 * Resolves every measurement's floor among the measurements of the same run.
 * @since 0.1.0
 * @category constructors
 */
export const rows = (measurements: ReadonlyArray<Measurement>): ReadonlyArray<Row> => {
  const byKey = new Map(measurements.map((m) => [measurementKey(m), m.value]))
  const valueOf = (ref: FloorRef) => byKey.get(measurementKey(ref))
  return measurements.map((m): Row => {
    const floorValue = m.pairedFloor?.value ?? (m.floor ? valueOf(m.floor) : undefined)
    const targetFloor = m.target?.kind === "floor-plus-at-most" && m.target.relativeTo !== undefined
      ? valueOf(m.target.relativeTo)
      : floorValue
    const pass = m.target ? check(m.target, m.value, targetFloor) : undefined
    return {
      ...m,
      ...(floorValue !== undefined ? { floorValue } : {}),
      ...(floorValue !== undefined && floorValue !== 0 ? { ratio: m.value / floorValue } : {}),
      ...(m.target ? { targetText: describeTarget(m.target) } : {}),
      ...(pass !== undefined ? { pass } : {})
    }
  })
}

/**
 * A number for the table: integers with thousands separators, small values with 2 decimals.
 * @since 0.1.0
 * @category formatting
 */
export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US")
  return value.toFixed(2)
}

/**
 * The line above a `--quick` table: its counts are too small and its runs too short to judge a
 * target, so its last column says only whether the value was on the right side of it.
 * @since 0.1.0
 * @category formatting
 */
export const QUICK_NOTE = "quick run: small counts, short runs, one process: these rows are indicative only; " +
  "targets are judged by a full run (npm run bench)"

/**
 * The results as an aligned text table. With `quick`, the rows are marked indicative: no row is a
 * FAIL, the last column (`indicative`) says `met` or `below` instead.
 * @since 0.1.0
 * @category formatting
 */
export const table = (
  results: ReadonlyArray<Row>,
  failures: ReadonlyArray<ScenarioOutcome>,
  options: { readonly quick?: boolean } = {}
): string => {
  const quick = options.quick === true
  const header = ["scenario", "transport", "metric", "value", "floor", "ratio", "target", quick ? "indicative" : "pass"]
  const body = results.map((r) => [
    r.scenario,
    r.transport,
    r.metric,
    formatNumber(r.value),
    r.floorValue !== undefined ? formatNumber(r.floorValue) : r.floor ? "(not run)" : "-",
    r.ratio !== undefined ? r.ratio.toFixed(2) : "-",
    r.targetText ?? "-",
    r.pass === undefined ? (r.target ? "?" : "-") : quick ? (r.pass ? "met" : "below") : r.pass ? "pass" : "FAIL"
  ])
  const all = [header, ...body]
  const numeric = new Set([3, 4, 5])
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])).join("  ").trimEnd()
  const lines = [
    ...(quick ? [QUICK_NOTE, ""] : []),
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map(line)
  ]
  for (const failure of failures) lines.push(`${failure.name}: ERROR ${failure.error}`)
  return lines.join("\n")
}
