/**
 * What the producer and consumer processes write down, one JSON object a line, and how the
 * orchestrator reads it back. Each record is written with one `write` system call as soon as it is
 * known, so a process killed with SIGKILL loses nothing it had recorded.
 */
import type { Scope } from "effect"
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"

/** A direct `send` to the consumer's channel or a `groupSend` to its group. */
export const Kind = Schema.Literal("direct", "group")
export type Kind = typeof Kind.Type

/** How a send ended: `"ok"`, or the `_tag` of the error it failed with. */
export const OK = "ok"

/** One send, written by the producer when it ends. Times are epoch milliseconds. */
export const SendRecord = Schema.TaggedStruct("send", {
  sender: Schema.String,
  seq: Schema.Number,
  kind: Kind,
  start: Schema.Number,
  end: Schema.Number,
  outcome: Schema.String
})
export type SendRecord = typeof SendRecord.Type

/** One message received by the consumer, written as it is received. */
export const ArrivalRecord = Schema.TaggedStruct("arrival", {
  sender: Schema.String,
  seq: Schema.Number,
  kind: Kind,
  at: Schema.Number
})
export type ArrivalRecord = typeof ArrivalRecord.Type

export const ChaosRecord = Schema.Union(SendRecord, ArrivalRecord)
export type ChaosRecord = typeof ChaosRecord.Type

/** The identity of a message across the run: senders number their messages 0, 1, 2... */
export const messageKey = (record: { readonly sender: string; readonly seq: number }): string =>
  `${record.sender}#${record.seq}`

/** The body the producer sends; the consumer turns it back into an {@link ArrivalRecord}. */
export const ChaosMessage = Schema.Struct({
  type: Schema.Literal("chaos.message"),
  sender: Schema.String,
  seq: Schema.Number,
  kind: Kind
})
export type ChaosMessage = typeof ChaosMessage.Type

/** Appends records to a file; closed with the scope. */
export interface RecordWriter {
  readonly write: (record: ChaosRecord) => Effect.Effect<void>
}

export const openWriter = (file: string): Effect.Effect<RecordWriter, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => fs.openSync(file, "a")),
      (fd) => Effect.sync(() => fs.closeSync(fd))
    ),
    (fd) => ({
      write: (record) =>
        Effect.sync(() => {
          fs.writeSync(fd, JSON.stringify(record) + "\n")
        })
    })
  )

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(ChaosRecord))

/**
 * Reads a record file as it grows: each `poll` returns the records completed since the last one.
 * A line without its newline yet (the writer was killed in the middle, or is writing now) waits
 * for the next poll; a line that does not decode is counted, not fatal.
 */
export class RecordTail {
  private offset = 0
  private partial = ""
  /** Lines that were not a record (there should be none). */
  malformed = 0

  constructor(readonly file: string) {}

  readonly poll: Effect.Effect<ReadonlyArray<ChaosRecord>> = Effect.sync(() => {
    let chunk: Buffer
    try {
      const fd = fs.openSync(this.file, "r")
      try {
        const size = fs.fstatSync(fd).size
        chunk = Buffer.alloc(Math.max(0, size - this.offset))
        const read = fs.readSync(fd, chunk, 0, chunk.length, this.offset)
        this.offset += read
        chunk = chunk.subarray(0, read)
      } finally {
        fs.closeSync(fd)
      }
    } catch {
      // Not created yet: the process has recorded nothing.
      return []
    }
    const lines = (this.partial + chunk.toString("utf8")).split("\n")
    this.partial = lines.pop() ?? ""
    const records: Array<ChaosRecord> = []
    for (const line of lines) {
      if (line.length === 0) continue
      const decoded = decodeLine(line)
      if (Either.isRight(decoded)) records.push(decoded.right)
      else this.malformed++
    }
    return records
  })
}
