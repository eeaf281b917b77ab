/**
 * A fixed pool of sender fibers that plain JavaScript hands work to: the latency runs pace their
 * sends with timers, as the raw floors do, and each due message goes to an idle sender fiber (or
 * waits for the next one to come free). A fiber per send, or an Effect `Queue` between the pacer
 * and the senders, costs kilobytes of garbage per message that the floors do not pay, and the
 * collections that garbage brings about would land in the transport's tail latency.
 * @since 0.1.0
 */
import { Fifo } from "@channel-layer/core/Fifo"
import { Effect, FiberSet } from "effect"
import type { Scope } from "effect"

/**
 * A running pool.
 * @since 0.1.0
 * @category models
 */
export interface SenderPool {
  /** Hands `seq` to an idle sender, or queues it for the first one to finish. */
  readonly dispatch: (seq: number) => void
  /** Sends finished so far (succeeded or failed). */
  readonly completed: () => number
  /** Sends that failed so far. */
  readonly failures: () => number
}

/**
 * Starts `size` sender fibers in the current scope, each running `send` for the numbers handed to
 * the pool, one at a time.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  size: number,
  send: (seq: number) => Effect.Effect<void, unknown>
): Effect.Effect<SenderPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const idle: Array<(seq: number) => void> = []
    const backlog = new Fifo<number>()
    const { completed, counted, failures } = counter(send)
    const next: Effect.Effect<number> = Effect.suspend(() => {
      const seq = backlog.shift()
      if (seq !== undefined) return Effect.succeed(seq)
      return Effect.async<number>((resume) => {
        idle.push((seq) => resume(Effect.succeed(seq)))
      })
    })
    const sender = Effect.forever(Effect.flatMap(next, counted))
    for (let i = 0; i < size; i++) yield* Effect.forkScoped(sender)
    return {
      dispatch: (seq) => {
        const worker = idle.pop()
        if (worker !== undefined) worker(seq)
        else backlog.push(seq)
      },
      completed,
      failures
    }
  })

/**
 * Senders counted as {@link make} counts them, but a fiber of its own for each send (as a websocket
 * handler sends), in the current scope.
 * @since 0.2.0
 * @category constructors
 */
export const fiberPerSend = (
  send: (seq: number) => Effect.Effect<void, unknown>
): Effect.Effect<SenderPool, never, Scope.Scope> =>
  Effect.map(FiberSet.makeRuntime<never>(), (run) => {
    const { completed, counted, failures } = counter(send)
    return {
      dispatch: (seq) => {
        run(counted(seq))
      },
      completed,
      failures
    }
  })

/** `send`, counting the sends that finished and those that failed. */
const counter = (send: (seq: number) => Effect.Effect<void, unknown>) => {
  let completed = 0
  let failures = 0
  const finished = Effect.sync(() => {
    completed++
  })
  const failed = Effect.sync(() => {
    completed++
    failures++
  })
  return {
    counted: (seq: number) => Effect.matchEffect(send(seq), { onFailure: () => failed, onSuccess: () => finished }),
    completed: () => completed,
    failures: () => failures
  }
}
