/**
 * The orchestrator's handle on a producer or consumer process (src/worker/*.ts): start it with
 * its configuration, talk to it over IPC, kill it.
 */
import type { Scope } from "effect"
import { Data, Duration, Effect, Either, Option, Queue, Schema } from "effect"
import * as path from "node:path"
import { FromWorker, type ToWorker, type WorkerConfig } from "./Protocol.js"
import { chaosDir, describeEnd, type Spawned, spawnTs } from "./Spawn.js"

export class WorkerError extends Data.TaggedError("WorkerError")<{ readonly message: string }> {}

export type Role = "producer" | "consumer"

export interface WorkerProcess {
  readonly name: string
  readonly process: Spawned
  readonly tell: (message: ToWorker) => Effect.Effect<void, WorkerError>
  /** Sends a message (if any) and waits for the answer of the given kind. */
  readonly request: <Tag extends FromWorker["_tag"]>(
    message: ToWorker | undefined,
    answer: Tag,
    timeout: Duration.DurationInput
  ) => Effect.Effect<Extract<FromWorker, { _tag: Tag }>, WorkerError>
  readonly isAlive: Effect.Effect<boolean>
}

const decode = Schema.decodeUnknownEither(FromWorker)

export const start = (
  role: Role,
  config: WorkerConfig,
  logFile: string
): Effect.Effect<WorkerProcess, WorkerError, Scope.Scope> =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<FromWorker>()
    const spawned = yield* spawnTs(
      path.join(chaosDir, "src", "worker", `${role}.ts`),
      [JSON.stringify(config)],
      logFile
    )
      .pipe(Effect.mapError((error) => new WorkerError({ message: error.message })))
    spawned.child.on("message", (raw) => {
      const message = decode(raw)
      if (Either.isRight(message)) Queue.unsafeOffer(inbox, message.right)
    })

    const died = (waitingFor: string) =>
      spawned.ended.pipe(
        Effect.zip(spawned.logTail),
        Effect.flatMap(([ended, tail]) =>
          Effect.fail(
            new WorkerError({
              message: `${config.name} ended (${describeEnd(ended)}) while waiting for ${waitingFor}; its log:\n${tail}`
            })
          )
        )
      )

    const tell = (message: ToWorker) =>
      Effect.try({
        try: () => {
          spawned.child.send(message)
        },
        catch: (cause) => new WorkerError({ message: `cannot send ${message._tag} to ${config.name}: ${cause}` })
      })

    const request = <Tag extends FromWorker["_tag"]>(
      message: ToWorker | undefined,
      answer: Tag,
      timeout: Duration.DurationInput
    ) =>
      Effect.gen(function*() {
        if (message !== undefined) yield* tell(message)
        const reply = Queue.take(inbox).pipe(
          Effect.repeat({ until: (reply) => reply._tag === answer }),
          Effect.map((reply) => reply as Extract<FromWorker, { _tag: Tag }>)
        )
        return yield* Effect.raceFirst(reply, died(answer)).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new WorkerError({
                message: `${config.name} did not answer ${answer} within ${Duration.format(Duration.decode(timeout))}`
              })
          })
        )
      })

    return {
      name: config.name,
      process: spawned,
      tell,
      request,
      isAlive: Effect.map(spawned.endedYet, Option.isNone)
    }
  })
