/**
 * `npm run chaos -- [--duration S] [--quick] [--only rabbitmq|zeromq-dedicated|zeromq-embedded] [--json]`
 *
 * Runs each transport with a producer and a consumer process while faults are injected, prints
 * one table (stdout; progress goes to stderr), writes chaos/results/latest.json, and exits
 * non-zero when a run loses a message without an allowed reason, duplicates or reorders one, or
 * loses a process. See chaos/README.md.
 */
import { Command, Options, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import type { Scope } from "effect"
import { Cause, Console, Data, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type ChaosReport, failures, type RunName, runNames, type RunOutcome, type RunResult } from "./Report.js"
import * as RabbitMQRun from "./runs/RabbitMQRun.js"
import * as ZeroMQDedicatedRun from "./runs/ZeroMQDedicatedRun.js"
import * as ZeroMQEmbeddedRun from "./runs/ZeroMQEmbeddedRun.js"
import * as Session from "./Session.js"
import { chaosDir } from "./Spawn.js"
import * as Table from "./Table.js"

class ChaosFailed extends Data.TaggedError("ChaosFailed")<{ readonly message: string }> {}

const runs: Record<RunName, (settings: Session.RunSettings) => Effect.Effect<RunResult, unknown, Scope.Scope>> = {
  rabbitmq: (settings) => RabbitMQRun.run(settings, "classic"),
  "rabbitmq-quorum": (settings) => RabbitMQRun.run(settings, "quorum"),
  "zeromq-dedicated": ZeroMQDedicatedRun.run,
  "zeromq-embedded": ZeroMQEmbeddedRun.run
}

const resultsDir = path.join(chaosDir, "results")

/** One run in a scope of its own; anything but an interruption (Ctrl-C) becomes a failed run. */
const runOne = (name: RunName, settings: Session.RunSettings): Effect.Effect<RunOutcome> =>
  Effect.gen(function*() {
    const began = Date.now()
    yield* Console.error(`== ${name}`)
    yield* Session.prepareRunDir(settings, name)
    const outcome = yield* Effect.scoped(runs[name](settings)).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.interrupt
          : Effect.succeed<RunOutcome>({ name, error: Cause.pretty(cause) })
      )
    )
    yield* Console.error(`== ${name} done in ${((Date.now() - began) / 1000).toFixed(0)} s`)
    return outcome
  })

const duration = Options.integer("duration").pipe(
  Options.withDescription("seconds of sending per transport run (default 60, 15 with --quick)"),
  Options.optional
)
const quick = Options.boolean("quick").pipe(Options.withDescription("15 s per run, for CI"))
const only = Options.choice("only", runNames).pipe(Options.withDescription("run one transport only"), Options.optional)
const json = Options.boolean("json").pipe(Options.withDescription("print the JSON report after the table"))

const chaos = Command.make("chaos", { duration, quick, only, json }, (flags) =>
  Effect.gen(function*() {
    const began = Date.now()
    const sendingSeconds = Option.getOrElse(flags.duration, () => flags.quick ? 15 : 60)
    if (sendingSeconds < 5) return yield* new ChaosFailed({ message: "--duration must be at least 5 seconds" })
    const settings: Session.RunSettings = {
      sendingMillis: sendingSeconds * 1000,
      expiryMillis: 10_000,
      load: { ratePerSecond: 300, inFlight: 8, groupEvery: 10 },
      killMarginMillis: 1_000,
      workDir: path.join(resultsDir, "work")
    }
    const selected = Option.match(flags.only, { onNone: () => runNames, onSome: (name) => [name] })
    const outcomes = yield* Effect.forEach(selected, (name) => runOne(name, settings))

    const runsWithVerdicts = outcomes.map((outcome) => ({ ...outcome, failures: failures(outcome) }))
    const passed = runsWithVerdicts.every((outcome) => outcome.failures.length === 0)
    const report: ChaosReport = {
      startedAt: new Date(began).toISOString(),
      settings: {
        sendingSeconds,
        expirySeconds: settings.expiryMillis / 1000,
        ...settings.load,
        killMarginMillis: settings.killMarginMillis
      },
      runs: runsWithVerdicts,
      passed,
      elapsedSeconds: Math.round((Date.now() - began) / 1000)
    }
    yield* Console.log(`\n${Table.render(outcomes)}\n`)
    const notes = Table.notes(outcomes)
    if (notes.length > 0) yield* Console.log(`${notes}\n`)
    yield* Console.log(`${passed ? "passed" : "FAILED"} in ${report.elapsedSeconds} s`)
    if (flags.json) yield* Console.log(JSON.stringify(report, null, 2))
    yield* Effect.promise(() =>
      fs.promises.writeFile(path.join(resultsDir, "latest.json"), JSON.stringify(report, null, 2) + "\n")
    )
    if (!passed) {
      return yield* new ChaosFailed({
        message: runsWithVerdicts.flatMap((run) => run.failures.map((reason) => `${run.name}: ${reason}`)).join("; ")
      })
    }
  }))

// Errors are printed here, briefly: @effect/cli has already explained a bad flag, and a failed
// chaos run has printed its table and reasons; anything else gets the full cause.
const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause)),
    onSome: (error) =>
      ValidationError.isValidationError(error)
        ? Effect.void
        : error instanceof ChaosFailed
        ? Console.error(`chaos: FAILED: ${error.message}`)
        : Console.error(Cause.pretty(cause))
  })

Command.run(chaos, { name: "chaos", version: "0.1.0" })(process.argv).pipe(
  Effect.tapErrorCause(reportFailure),
  Effect.provide(NodeContext.layer),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true })
)
