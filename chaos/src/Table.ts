/**
 * The printed report: one Markdown table, a column per transport run and a row per measure, then
 * a few lines on each failure. Pure functions.
 */
import { medianAndMax, type Recovery } from "./Analysis.js"
import type { Fault } from "./Faults.js"
import { failures, isError, type Rss, type RunOutcome, type RunResult } from "./Report.js"

const count = (n: number): string => n.toLocaleString("en-US")

const seconds = (millis: number | null): string => millis === null ? "never" : `${(millis / 1000).toFixed(2)} s`

const mebibytes = (bytes: number | null): string => bytes === null ? "?" : (bytes / 1024 / 1024).toFixed(0)

const rss = (value: Rss): string => `${mebibytes(value.start)} → ${mebibytes(value.end)} MiB`

const faultSummary = (faults: ReadonlyArray<Fault>): string => {
  const cuts = faults.filter((fault) => fault._tag === "Cut")
  const bySide = (side: string) => cuts.filter((cut) => cut.side === side).length
  const parts: Array<string> = []
  if (cuts.length > 0) {
    parts.push(
      `${cuts.length} cut${cuts.length === 1 ? "" : "s"} (${bySide("producer")} producer, ${
        bySide("consumer")
      } consumer, ${bySide("both")} both)`
    )
  }
  const others: ReadonlyArray<[Fault["_tag"], string]> = [
    ["BrokerRestart", "broker restart"],
    ["ProxyKill", "proxy kill"],
    ["SenderKill", "producer kill"]
  ]
  for (const [tag, label] of others) {
    const n = faults.filter((fault) => fault._tag === tag).length
    if (n > 0) parts.push(`${n} ${label}${n > 1 ? "s" : ""}`)
  }
  return parts.length === 0 ? "none" : parts.join(", ")
}

const failedSends = (result: RunResult): string => {
  const entries = Object.entries(result.tally.failed).sort(([, a], [, b]) => b - a)
  if (entries.length === 0) return "0"
  const list = entries.map(([tag, n]) => `${tag} ${count(n)}`).join(", ")
  return result.tally.failedButDelivered > 0 ? `${list} (${result.tally.failedButDelivered} delivered anyway)` : list
}

const cutRecovery = (recoveries: ReadonlyArray<Recovery>): string => {
  if (recoveries.length === 0) return "-"
  const recovered = recoveries.flatMap((recovery) => recovery.millis === null ? [] : [recovery.millis])
  const { max, median } = medianAndMax(recovered)
  const never = recoveries.length - recovered.length
  return `${seconds(median)} / ${seconds(max)}${never > 0 ? `, ${never} never` : ""}`
}

const repairRecovery = (recoveries: ReadonlyArray<Recovery>): string =>
  recoveries.length === 0 ? "-" : recoveries.map((recovery) => seconds(recovery.millis)).join(", ")

/** An allowed-loss count, shown only where the run has the fault that allows it. */
const allowedLoss = (result: RunResult, fault: Fault["_tag"], n: number): string =>
  result.faults.some((f) => f._tag === fault) ? count(n) : "-"

interface Row {
  readonly label: string
  readonly cell: (result: RunResult) => string
}

const rows: ReadonlyArray<Row> = [
  {
    label: "sending time (sends/s)",
    cell: (r) => `${(r.sendingMillis / 1000).toFixed(1)} s (${r.sendRate.toFixed(0)}/s)`
  },
  { label: "faults", cell: (r) => faultSummary(r.faults) },
  { label: "direct sends ok", cell: (r) => count(r.tally.okDirect) },
  { label: "group sends ok", cell: (r) => count(r.tally.okGroup) },
  { label: "sends failed, by error", cell: failedSends },
  { label: "delivered", cell: (r) => count(r.tally.delivered) },
  { label: "**lost** (ok, never delivered, no allowed reason)", cell: (r) => count(r.tally.lost.silent) },
  {
    label: "lost in the restart window (group sends before the binding is back)",
    cell: (r) => allowedLoss(r, "BrokerRestart", r.tally.lost.restartWindow)
  },
  {
    label: "lost with the classic queue at the restart (what it held when the broker stopped)",
    cell: (r) =>
      r.faults.some((f) => f._tag === "BrokerRestart" && f.queueLost)
        ? count(r.tally.lost.restartQueue)
        : allowedLoss(r, "BrokerRestart", r.tally.lost.restartQueue)
  },
  {
    label: "group sends a full member queue refused (logged and counted by the layer)",
    cell: (r) => count(r.tally.lost.fullQueue)
  },
  { label: "lost in the killed proxy", cell: (r) => allowedLoss(r, "ProxyKill", r.tally.lost.killedProxy) },
  { label: "lost with the killed sender", cell: (r) => allowedLoss(r, "SenderKill", r.tally.lost.killedSender) },
  {
    label: "lost while its replacement's subscribers joined (group sends)",
    cell: (r) => allowedLoss(r, "SenderKill", r.tally.lost.senderJoining)
  },
  { label: "duplicates", cell: (r) => count(r.tally.duplicates) },
  { label: "out of order (per sender and channel)", cell: (r) => count(r.tally.outOfOrder) },
  { label: "recovery after a cut, median / max", cell: (r) => cutRecovery(r.tally.cutRecoveries) },
  { label: "recovery after the restart / kill", cell: (r) => repairRecovery(r.tally.repairRecoveries) },
  {
    label: "returned unroutable (layer metric)",
    cell: (r) => r.unroutable === null ? "n/a" : count(r.unroutable)
  },
  { label: "producer RSS, start → end", cell: (r) => rss(r.producerRss) },
  { label: "consumer RSS, start → end", cell: (r) => rss(r.consumerRss) },
  {
    label: "alive at the end",
    cell: (r) =>
      r.producerAlive && r.consumerAlive
        ? "both"
        : [r.producerAlive ? "" : "producer DEAD", r.consumerAlive ? "" : "consumer DEAD"].filter(Boolean).join(", ")
  }
]

export const render = (outcomes: ReadonlyArray<RunOutcome>): string => {
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  const cellOf = (outcome: RunOutcome, row: Row) => isError(outcome) ? "-" : row.cell(outcome)
  const verdict = (outcome: RunOutcome) => failures(outcome).length === 0 ? "pass" : "**FAIL**"
  return [
    line(["", ...outcomes.map((outcome) => outcome.name)]),
    line(["---", ...outcomes.map(() => "---:")]),
    ...rows.map((row) => line([row.label, ...outcomes.map((outcome) => cellOf(outcome, row))])),
    line(["verdict", ...outcomes.map(verdict)])
  ].join("\n")
}

/** Under the table: why each failing run failed, and where its silent losses happened. */
export const notes = (outcomes: ReadonlyArray<RunOutcome>): string =>
  outcomes.flatMap((outcome) => {
    const reasons = failures(outcome)
    if (reasons.length === 0) return []
    const lines = [`${outcome.name}: FAIL: ${reasons.join("; ")}`]
    if (isError(outcome)) {
      lines.push(outcome.error)
    } else if (outcome.tally.silentLossNear.length > 0) {
      lines.push(
        `  silent losses by the fault nearest to the end of their send: ${
          outcome.tally.silentLossNear.map(({ count: n, fault }) =>
            fault === null ? `${n} with no fault injected` : `${n} near ${fault}`
          ).join("; ")
        }`,
        `  for example: ${outcome.tally.silentLossExamples.join(", ")}`
      )
    }
    return lines
  }).join("\n")
