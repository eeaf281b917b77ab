/**
 * The progress line on stderr: scenario, phase, done/total. Redrawn in place on a terminal,
 * printed as throttled lines otherwise (CI logs, the smoke test).
 * @since 0.1.0
 */
import { performance } from "node:perf_hooks"

/**
 * Writes progress to a stream (stderr by default).
 * @since 0.1.0
 * @category progress
 */
export class Progress {
  private scenario = ""
  private index = 0
  private label = ""
  private lastWrite = 0
  private readonly intervalMs: number

  constructor(
    private readonly totalScenarios: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly tty: boolean = stream.isTTY === true
  ) {
    this.intervalMs = tty ? 100 : 2_000
  }

  /** A scenario starts. */
  start(index: number, scenario: string): void {
    this.index = index
    this.scenario = scenario
    this.label = ""
    this.write("starting", true)
  }

  /** The scenario enters a new phase. */
  phase(label: string): void {
    this.label = label
    this.write(label, !this.tty)
  }

  /** `done` of `total` in the current phase; cheap when called per message. */
  update(done: number, total: number): void {
    if (done !== total && (done & 255) !== 0) return
    const now = performance.now()
    if (now - this.lastWrite < this.intervalMs) return
    this.write(`${this.label} ${done}/${total}`, false)
  }

  /** The scenario ended. */
  finish(outcome: string): void {
    this.write(outcome, true)
    if (this.tty) this.stream.write("\n")
  }

  private write(text: string, force: boolean): void {
    const now = performance.now()
    if (!force && now - this.lastWrite < this.intervalMs) return
    this.lastWrite = now
    const line = `[${this.index}/${this.totalScenarios}] ${this.scenario}: ${text}`
    this.stream.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`)
  }
}
