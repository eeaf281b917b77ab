/**
 * One transport run, the part all three share: start the consumer and the producer, let the
 * producer send while the run's own faults are injected, stop it, wait for the stragglers, and
 * turn the records into a {@link RunResult}. The transport-specific parts (the broker or proxy,
 * the addresses, the faults) come from the run module.
 */
import { Cause, Console, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { analyse } from "./Analysis.js"
import { Collector } from "./Collector.js"
import * as Faults from "./Faults.js"
import * as Producers from "./Producers.js"
import type { Load, TransportSpec, WorkerConfig } from "./Protocol.js"
import type { RunName, RunResult } from "./Report.js"
import * as Stragglers from "./Stragglers.js"
import * as WorkerProcess from "./WorkerProcess.js"

export interface RunSettings {
  readonly sendingMillis: number
  /** The layers' expiry, and the longest wait for stragglers after the last send. */
  readonly expiryMillis: number
  readonly load: Load
  /** See `AnalysisInput.killMarginMillis`. */
  readonly killMarginMillis: number
  /** Each run writes its records and logs to `<workDir>/<run name>/` (see {@link runDir}). */
  readonly workDir: string
}

/** Where a run writes its records and logs. */
export const runDir = (settings: RunSettings, name: RunName): string => path.join(settings.workDir, name)

/** Empties a run's directory, before the run starts anything. */
export const prepareRunDir = (settings: RunSettings, name: RunName): Effect.Effect<void> =>
  Effect.promise(async () => {
    const dir = runDir(settings, name)
    await fs.promises.rm(dir, { recursive: true, force: true })
    await fs.promises.mkdir(dir, { recursive: true })
  })

export interface Topology {
  readonly producer: TransportSpec
  readonly consumer: TransportSpec
  /** Start the producer first (the embedded consumer subscribes to the producer's PUB socket). */
  readonly producerFirst: boolean
}

/** What a run's fault injector can do. */
export interface Session {
  readonly startedAt: number
  readonly sendingMillis: number
  readonly faults: Faults.FaultLog
  /** A progress line on stderr, stamped with the time since sending started. */
  readonly log: (message: string) => Effect.Effect<void>
  /** Sleeps until `offsetMillis` after sending started. */
  readonly sleepUntil: (offsetMillis: number) => Effect.Effect<void>
  /**
   * Runs a fault from start to finish: the end of the run waits for one in progress instead of
   * interrupting it halfway (a node left stopped, a proxy not restarted).
   */
  readonly whole: <A, E>(fault: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Kills the producer with SIGKILL and starts the next one, sending where it did. */
  readonly replaceProducer: Effect.Effect<void, WorkerProcess.WorkerError>
}

const readyTimeout = "60 seconds"

export const run = <E>(
  name: RunName,
  settings: RunSettings,
  topology: Topology,
  injectFaults: (session: Session) => Effect.Effect<void, E>
): Effect.Effect<RunResult, E | WorkerProcess.WorkerError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const dir = runDir(settings, name)
    const file = (worker: string, extension: string) => path.join(dir, `${worker}.${extension}`)
    const startWorker = (role: WorkerProcess.Role, workerName: string, transport: TransportSpec) => {
      const config: WorkerConfig = {
        name: workerName,
        transport,
        recordFile: file(workerName, "jsonl"),
        load: settings.load
      }
      return WorkerProcess.start(role, config, file(workerName, "log")).pipe(
        Effect.flatMap((worker) =>
          Effect.map(worker.request(undefined, "Ready", readyTimeout), (ready) => ({ worker, ready }))
        ),
        Scope.extend(scope)
      )
    }

    const producers = yield* Producers.make((producerName) =>
      Effect.map(
        startWorker("producer", producerName, topology.producer),
        ({ ready, worker }) => ({ worker, readyRss: ready.rss })
      )
    )
    const startConsumer = Effect.gen(function*() {
      const { ready, worker } = yield* startWorker("consumer", "consumer", topology.consumer)
      if (ready.channel === undefined || ready.group === undefined) {
        return yield* new WorkerProcess.WorkerError({ message: "the consumer did not say where it receives" })
      }
      return { worker, readyRss: ready.rss, go: { _tag: "Go", channel: ready.channel, group: ready.group } as const }
    })

    // Side by side where the order does not matter (Node and tsx take seconds to start).
    const [consumer, firstProducer] = topology.producerFirst
      ? yield* Effect.flatMap(
        producers.startNext,
        (producer) => Effect.map(startConsumer, (c) => [c, producer] as const)
      )
      : yield* Effect.all([startConsumer, producers.startNext], { concurrency: 2 })
    yield* firstProducer.tell(consumer.go)

    const startedAt = Date.now()
    const faults = yield* Faults.makeLog
    const log = (message: string) =>
      Console.error(`[${name} ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${message}`)

    const replaceProducer = Effect.gen(function*() {
      const victim = yield* producers.current
      const report = yield* victim.worker.request({ _tag: "Inquire" }, "Report", "2 seconds").pipe(Effect.option)
      yield* producers.setReport(victim.worker, report)
      const at = Date.now()
      yield* victim.worker.process.kill("SIGKILL")
      yield* log(`${victim.worker.name} killed with SIGKILL`)
      const replacement = yield* producers.startNext
      yield* replacement.tell(consumer.go)
      const up = Date.now()
      yield* faults.record({ _tag: "SenderKill", at, sender: victim.worker.name, replacement: replacement.name, up })
      yield* log(`${replacement.name} sending ${((up - at) / 1000).toFixed(1)} s after the kill`)
    })

    const faultInProgress = yield* Effect.makeSemaphore(1)
    const session: Session = {
      startedAt,
      sendingMillis: settings.sendingMillis,
      faults,
      log,
      sleepUntil: (offset) => Effect.suspend(() => Effect.sleep(Math.max(0, startedAt + offset - Date.now()))),
      whole: faultInProgress.withPermits(1),
      replaceProducer
    }

    yield* log(`sending for ${settings.sendingMillis / 1000} s`)
    const injector = yield* Effect.forkScoped(injectFaults(session))
    // A fault that fails (rabbitmqctl refusing, a proxy that does not come back) ends the run at
    // once; an injector that is done early leaves the producer sending until the time is up.
    yield* Effect.raceFirst(
      Effect.sleep(settings.sendingMillis),
      Fiber.join(injector).pipe(Effect.zipRight(Effect.never))
    )
    const injectorExit = yield* faultInProgress.withPermits(1)(Fiber.interrupt(injector))
    if (Exit.isFailure(injectorExit) && !Cause.isInterruptedOnly(injectorExit.cause)) {
      return yield* Effect.failCause(injectorExit.cause)
    }

    const last = yield* producers.current
    const finalReport = yield* last.worker.request({ _tag: "Stop" }, "Report", "60 seconds").pipe(Effect.option)
    yield* producers.setReport(last.worker, finalReport)
    const sendingMillis = Date.now() - startedAt
    yield* log("stopped sending; waiting for what is still on its way")

    const all = yield* producers.all
    const collector = new Collector([
      ...all.map((producer) => file(producer.worker.name, "jsonl")),
      file("consumer", "jsonl")
    ])
    const reports = all.map((producer) => producer.report)
    const rejectedFull = reports.every(Option.isSome)
      ? reports.reduce((sum, report) => sum + Option.getOrThrow(report).rejectedFull, 0)
      : null
    const analysis = Effect.map(faults.all, (injected) =>
      analyse({
        sends: collector.sends,
        arrivals: collector.arrivals,
        faults: injected,
        startedAt,
        killMarginMillis: settings.killMarginMillis,
        rejectedFull
      }))
    yield* log(yield* Stragglers.waitFor(collector, analysis, settings.expiryMillis))
    const consumerReport = yield* consumer.worker.request({ _tag: "Inquire" }, "Report", "10 seconds").pipe(
      Effect.option
    )

    return {
      name,
      sendingMillis,
      sendRate: collector.sends.length / (sendingMillis / 1000),
      faults: yield* faults.all,
      tally: yield* analysis,
      unroutable: reports.every(Option.isSome)
        ? reports.reduce((sum, report) => sum + Option.getOrThrow(report).unroutable, 0)
        : null,
      producerRss: { start: all[0].readyRss, end: Option.getOrNull(Option.map(finalReport, (r) => r.rss)) },
      consumerRss: { start: consumer.readyRss, end: Option.getOrNull(Option.map(consumerReport, (r) => r.rss)) },
      producerAlive: yield* last.worker.isAlive,
      consumerAlive: yield* consumer.worker.isAlive,
      malformedRecords: collector.malformed
    } satisfies RunResult
  })
