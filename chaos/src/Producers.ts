/**
 * The producer processes of a run: the first one, and the replacement of each one killed, with
 * what each reported (memory, unroutable count). Senders are named `producer-1`, `producer-2`...
 */
import { Effect, Option, Ref } from "effect"
import type { FromWorker } from "./Protocol.js"
import type { WorkerError, WorkerProcess } from "./WorkerProcess.js"

type Report = Extract<FromWorker, { _tag: "Report" }>

export interface Producer {
  readonly worker: WorkerProcess
  /** RSS when its layer was ready. */
  readonly readyRss: number
  /** Its last report: for a killed producer, the one taken just before the kill. */
  readonly report: Option.Option<Report>
}

export interface Producers {
  /** Starts the next producer and waits until it is ready. */
  readonly startNext: Effect.Effect<WorkerProcess, WorkerError>
  /** The one started last. */
  readonly current: Effect.Effect<Producer>
  readonly all: Effect.Effect<ReadonlyArray<Producer>>
  readonly setReport: (worker: WorkerProcess, report: Option.Option<Report>) => Effect.Effect<void>
}

export const make = (
  start: (name: string) => Effect.Effect<{ readonly worker: WorkerProcess; readonly readyRss: number }, WorkerError>
): Effect.Effect<Producers> =>
  Effect.map(Ref.make<ReadonlyArray<Producer>>([]), (producers) => ({
    startNext: Effect.gen(function*() {
      const number = (yield* Ref.get(producers)).length + 1
      const { readyRss, worker } = yield* start(`producer-${number}`)
      yield* Ref.update(producers, (all) => [...all, { worker, readyRss, report: Option.none() }])
      return worker
    }),
    current: Effect.map(Ref.get(producers), (all) => all[all.length - 1]),
    all: Ref.get(producers),
    setReport: (worker, report) =>
      Ref.update(producers, (all) =>
        all.map((producer) => producer.worker === worker ? { ...producer, report } : producer))
  }))
