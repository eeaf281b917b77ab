/**
 * The worker's side of the IPC channel to the orchestrator: the messages it receives, in order,
 * and a way to answer. When the orchestrator goes away (it ended, or was killed), `gone`
 * completes and the worker ends too, so no producer or consumer outlives its run.
 */
import type { Scope } from "effect"
import { Deferred, Effect, Either, Exit, Metric, MetricState, Queue, Schema } from "effect"
import { type FromWorker, ToWorker } from "../Protocol.js"

export interface Parent {
  readonly next: Effect.Effect<ToWorker>
  /** The next message of the given kind; messages of other kinds before it are dropped. */
  readonly expect: <Tag extends ToWorker["_tag"]>(tag: Tag) => Effect.Effect<Extract<ToWorker, { _tag: Tag }>>
  readonly send: (message: FromWorker) => Effect.Effect<void>
  /** Completes when the IPC channel closes. */
  readonly gone: Effect.Effect<void>
}

const decode = Schema.decodeUnknownEither(ToWorker)

export const connect: Effect.Effect<Parent, never, Scope.Scope> = Effect.gen(function*() {
  const inbox = yield* Queue.unbounded<ToWorker>()
  const gone = yield* Deferred.make<void>()
  const onMessage = (raw: unknown) => {
    const message = decode(raw)
    if (Either.isRight(message)) Queue.unsafeOffer(inbox, message.right)
  }
  const onDisconnect = () => Deferred.unsafeDone(gone, Exit.void)
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      process.on("message", onMessage)
      process.on("disconnect", onDisconnect)
      // Adding a "message" listener refs the channel; the worker's own work keeps it alive, and
      // once that ends the process must be free to exit.
      process.channel?.unref()
      if (process.send === undefined || !process.connected) onDisconnect()
    }),
    () =>
      Effect.sync(() => {
        process.off("message", onMessage)
        process.off("disconnect", onDisconnect)
      })
  )
  const expect = <Tag extends ToWorker["_tag"]>(tag: Tag) =>
    Queue.take(inbox).pipe(
      Effect.repeat({ until: (message) => message._tag === tag }),
      Effect.map((message) => message as Extract<ToWorker, { _tag: Tag }>)
    )
  const send = (message: FromWorker) =>
    Effect.async<void>((resume) => {
      if (process.send === undefined || !process.connected) return resume(Effect.void)
      process.send(message, undefined, {}, () => resume(Effect.void))
    })
  return { next: Queue.take(inbox), expect, send, gone: Deferred.await(gone) }
})

/**
 * A counter summed over its labels, read by name: the RabbitMQ layer counts
 * `channel_layer_messages_unroutable` as core's `Metrics.messagesUnroutable` labelled
 * `transport=rabbitmq`, ZeroMQ as its own counter of the same name.
 */
const counted = (name: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name === name && MetricState.isCounterState(pair.metricState)) {
        total += Number(pair.metricState.count)
      }
    }
    return total
  })

/** This process's resident set size and the layer's counts, sent as a `Report`. */
export const report = (parent: Parent): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.all([counted("channel_layer_messages_unroutable"), counted("channel_layer_messages_rejected_full")]),
    ([unroutable, rejectedFull]) =>
      parent.send({ _tag: "Report", rss: process.memoryUsage.rss(), unroutable, rejectedFull })
  )

/** Answers every `Inquire` with a `Report`, and runs `onStop` on `Stop`, until the worker ends. */
export const serve = (parent: Parent, onStop: Effect.Effect<void> = Effect.void): Effect.Effect<never> =>
  parent.next.pipe(
    Effect.flatMap((message) => {
      switch (message._tag) {
        case "Inquire":
          return report(parent)
        case "Stop":
          return onStop
        case "Go":
          return Effect.logWarning("Go received twice")
      }
    }),
    Effect.forever
  )
