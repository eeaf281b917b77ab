/**
 * The README's benchmark table: one run's rows as Markdown, with the range of each value and
 * ratio over several runs of the same scenarios (figures on a shared machine move from run to
 * run; a range says by how much).
 * @since 0.1.0
 */
import type { Report, Row } from "./Report.js"
import { formatNumber, measurementKey as key } from "./Report.js"

const range = (values: ReadonlyArray<number>, format: (value: number) => string): string => {
  if (values.length === 0) return "-"
  const low = Math.min(...values)
  const high = Math.max(...values)
  return low === high ? format(low) : `${format(low)} – ${format(high)}`
}

const verdict = (row: Row): string => row.pass === undefined ? "" : row.pass ? "pass" : "**FAIL**"

const escape = (text: string) => text.replaceAll("|", "\\|").replaceAll(">=", "≥").replaceAll("<=", "≤")

/**
 * A Markdown table of `shown`'s rows (value, floor, ratio, target, pass) with, for each row, the
 * range of its value and of its ratio over `runs` (which should include `shown`).
 * @since 0.1.0
 * @category formatting
 */
export const markdown = (shown: Report, runs: ReadonlyArray<Report>): string => {
  const byKey = new Map<string, Array<Row>>()
  for (const run of runs) {
    for (const row of run.results) {
      const rows = byKey.get(key(row)) ?? []
      rows.push(row)
      byKey.set(key(row), rows)
    }
  }
  const ratio = (value: number) => value.toFixed(2)
  const lines = [
    `| scenario | transport | metric | value | floor | ratio | target | | value, ${runs.length} runs | ratio, ${runs.length} runs |`,
    "| --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: |"
  ]
  for (const row of shown.results) {
    const all = byKey.get(key(row)) ?? [row]
    const ratios = all.flatMap((r) => r.ratio === undefined ? [] : [r.ratio])
    lines.push(
      `| ${row.scenario} | ${row.transport} | ${row.metric} | ${formatNumber(row.value)} | ` +
        `${row.floorValue === undefined ? "" : formatNumber(row.floorValue)} | ` +
        `${row.ratio === undefined ? "" : ratio(row.ratio)} | ${escape(row.targetText ?? "")} | ${verdict(row)} | ` +
        `${range(all.map((r) => r.value), formatNumber)} | ${range(ratios, ratio)} |`
    )
  }
  return lines.join("\n")
}

/**
 * How often each target was met over `runs`: `scenario metric: met in k of n runs`, for the rows
 * that have a target.
 * @since 0.1.0
 * @category formatting
 */
export const targetsMet = (runs: ReadonlyArray<Report>): ReadonlyArray<string> => {
  const counts = new Map<string, { met: number; of: number }>()
  for (const run of runs) {
    for (const row of run.results) {
      if (row.pass === undefined) continue
      const count = counts.get(key(row)) ?? { met: 0, of: 0 }
      count.of++
      if (row.pass) count.met++
      counts.set(key(row), count)
    }
  }
  return [...counts].map(([k, { met, of }]) => `${k.replace("\u0000", " ")}: met in ${met} of ${of} runs`)
}
