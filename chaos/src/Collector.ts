/**
 * The orchestrator's running account of a run's record files: every send and arrival read so
 * far, and whether every send that succeeded has arrived (the end of the final wait).
 */
import { Effect } from "effect"
import { type ArrivalRecord, messageKey, OK, RecordTail, type SendRecord } from "./Records.js"

export class Collector {
  readonly sends: Array<SendRecord> = []
  /** In the order the consumer received them. */
  readonly arrivals: Array<ArrivalRecord> = []
  private readonly arrived = new Set<string>()
  private readonly waitingFor = new Set<string>()
  private readonly tails: ReadonlyArray<RecordTail>
  /** Reads what was written since the last poll. */
  readonly poll: Effect.Effect<void>

  constructor(files: ReadonlyArray<string>) {
    this.tails = files.map((file) => new RecordTail(file))
    this.poll = Effect.forEach(this.tails, (tail) => tail.poll).pipe(
      Effect.map((batches) => {
        for (const record of batches.flat()) {
          const key = messageKey(record)
          if (record._tag === "send") {
            this.sends.push(record)
            if (record.outcome === OK && !this.arrived.has(key)) this.waitingFor.add(key)
          } else {
            this.arrivals.push(record)
            this.arrived.add(key)
            this.waitingFor.delete(key)
          }
        }
      })
    )
  }

  get everySuccessfulSendArrived(): boolean {
    return this.waitingFor.size === 0
  }

  get malformed(): number {
    return this.tails.reduce((sum, tail) => sum + tail.malformed, 0)
  }
}
