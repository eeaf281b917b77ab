/**
 * The outgoing side of one socket: a bounded FIFO of multipart messages and the one writer fiber
 * that hands them to the socket (zeromq.js allows one pending send per socket, so nothing else
 * sends on it).
 *
 * Senders only queue; the writer drains the queue in one go per wake-up, awaiting each `send`
 * (which resolves at once while the socket takes messages). When the socket cannot take more
 * (the high-water mark: a PUSH socket's send stays pending, a PUB socket with `noDrop` refuses
 * with EAGAIN and the writer backs off and retries), the queue fills up to its capacity and
 * `offer` returns `false`: the caller turns that into `ChannelFull`. Control messages
 * (subscription acknowledgements) skip the capacity and go first.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect, Schedule } from "effect"
import { Fifo } from "./Fifo.js"
import type * as Warnings from "./Warnings.js"

/**
 * A multipart message.
 *
 * @since 0.1.0
 * @category models
 */
export type Frames = Array<Uint8Array>

/**
 * What the writer needs of a socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writable {
  readonly send: (frames: Frames) => Promise<void>
  readonly closed: boolean
}

/**
 * A bounded outgoing queue with its writer fiber.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outbox {
  /** Data messages waiting for the socket. */
  readonly size: () => number
  readonly capacity: number
  /** Queues a data message; `false` when `capacity` messages already wait. */
  readonly offer: (frames: Frames) => boolean
  /** Queues a data message whatever the capacity (it was admitted earlier, e.g. held). */
  readonly force: (frames: Frames) => void
  /** Queues a control message, sent before any waiting data. */
  readonly control: (frames: Frames) => void
  /** Waits until a data message would be accepted. */
  readonly awaitRoom: Effect.Effect<void>
  /** Waits until every queued message was handed to the socket, or `timeout` ms passed. */
  readonly drain: (timeout: number) => Effect.Effect<void>
}

const sendFailed = (role: string): Warnings.Kind => ({
  key: `send-failed:${role}`,
  render: (total, top) => `${role}: dropped ${total} messages the socket refused: ${top}`
})

type Outcome = "empty" | "blocked" | "closed"

/**
 * Makes an outbox for a socket, with its writer fiber in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  socket: Writable,
  options: { readonly capacity: number; readonly role: string; readonly warnings: Warnings.Warnings }
): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const data = new Fifo<Frames>()
    const controls = new Fifo<Frames>()
    const failedKind = sendFailed(options.role)
    let wake: (() => void) | undefined
    const roomWaiters: Array<() => void> = []

    const signal = () => {
      if (wake !== undefined) {
        const resume = wake
        wake = undefined
        resume()
      }
    }

    const releaseRoom = () => {
      if (roomWaiters.length > 0 && data.length < options.capacity) {
        for (const resume of roomWaiters.splice(0)) resume()
      }
    }

    /** Hands queued messages to the socket until the queue is empty or the socket refuses. */
    const write = async (): Promise<Outcome> => {
      for (;;) {
        const fromControl = controls.length > 0
        const frames = fromControl ? controls.peek() : data.peek()
        if (frames === undefined) return "empty"
        try {
          await socket.send(frames)
        } catch (error) {
          if (socket.closed) return "closed"
          if ((error as { code?: string }).code === "EAGAIN") return "blocked"
          options.warnings.report(failedKind, (error as Error).message ?? String(error))
        }
        if (fromControl) controls.shift()
        else {
          data.shift()
          releaseRoom()
        }
      }
    }

    const idle = Effect.async<void>((resume) => {
      if (data.length > 0 || controls.length > 0) return resume(Effect.void)
      wake = () => resume(Effect.void)
      return Effect.sync(() => {
        wake = undefined
      })
    })

    // At the high-water mark a PUB socket with noDrop refuses at once (EAGAIN) and never reports
    // when it could take more, so the writer retries: 1 ms, doubling, at most every 50 ms.
    const backoff = Schedule.exponential(Duration.millis(1)).pipe(Schedule.union(Schedule.spaced(Duration.millis(50))))
    const writeAll = Effect.promise(write).pipe(
      Effect.flatMap((outcome) => outcome === "blocked" ? Effect.fail(outcome) : Effect.succeed(outcome)),
      Effect.retry(backoff),
      Effect.orElseSucceed(() => "closed" as const)
    )

    yield* idle.pipe(
      Effect.zipRight(writeAll),
      Effect.repeat({ until: (outcome) => outcome === "closed" }),
      Effect.interruptible,
      Effect.forkScoped
    )

    const offer = (frames: Frames): boolean => {
      if (data.length >= options.capacity) return false
      data.push(frames)
      signal()
      return true
    }

    return {
      size: () => data.length,
      capacity: options.capacity,
      offer,
      force: (frames) => {
        data.push(frames)
        signal()
      },
      control: (frames) => {
        controls.push(frames)
        signal()
      },
      awaitRoom: Effect.async<void>((resume) => {
        if (data.length < options.capacity) return resume(Effect.void)
        const waiter = () => resume(Effect.void)
        roomWaiters.push(waiter)
        return Effect.sync(() => {
          const index = roomWaiters.indexOf(waiter)
          if (index !== -1) roomWaiters.splice(index, 1)
        })
      }),
      drain: (timeout) =>
        Effect.void.pipe(
          Effect.repeat({
            schedule: Schedule.spaced(Duration.millis(5)),
            until: () => (data.length === 0 && controls.length === 0) || socket.closed
          }),
          Effect.timeout(Duration.millis(timeout)),
          Effect.ignore
        )
    }
  })
