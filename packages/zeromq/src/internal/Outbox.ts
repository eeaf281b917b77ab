/**
 * The outgoing side of one socket: a bounded FIFO of multipart messages and the one writer fiber
 * that hands them to the socket (zeromq.js allows one pending send per socket, so nothing else
 * sends on it).
 *
 * Senders only queue. The writer runs a plain JavaScript loop (an Effect step per message would
 * cost more than the message) that awaits each `send`, which resolves at once while the socket
 * takes messages, and sleeps on a wake-up when the queue is empty. Consecutive queued messages
 * for the same topic go out as one multipart message: the topic, then each body. At the high-water mark a PUSH
 * socket's send stays pending; a PUB socket with `noDrop` refuses with EAGAIN, and the fiber then
 * backs off (1 ms, doubling, at most 4 ms, on Effect's clock) and tries again. Meanwhile the
 * queue fills up to its capacity and `offer` returns `false`; senders may wait for room with
 * `whenRoom`, in order of arrival. Control messages (subscription acknowledgements) skip the
 * capacity and go first.
 *
 * @since 0.1.0
 */
import type { Warnings } from "@channel-layer/core"
import { Fifo } from "@channel-layer/core/Fifo"
import type { Scope } from "effect"
import { Duration, Effect } from "effect"

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
  /**
   * Waits until `attempt` succeeds (`true`), or `timeout` ms passed (`false`). Waiting attempts
   * run in order, synchronously, when room is made (`release`, and once the queue is down to half
   * its capacity), so the sender that waited longest gets the first free slot and nobody spins.
   * One fiber times the waits out (a timer per wait would cost more than the wait).
   */
  readonly whenRoom: (attempt: () => boolean, timeout: number) => Effect.Effect<boolean>
  /** `whenRoom` for plain JavaScript callers: `done` runs once `attempt` succeeded. */
  readonly unsafeWhenRoom: (attempt: () => boolean, done: () => void) => void
  /** Runs waiting attempts (for room made elsewhere, e.g. in a hold). */
  readonly release: () => void
  /** Waits until every queued message was handed to the socket, or `timeout` ms passed. */
  readonly drain: (timeout: number) => Effect.Effect<void>
}

const sendFailed = (role: string): Warnings.Kind => ({
  key: `send-failed:${role}`,
  render: (total, top) => `${role}: dropped ${total} messages the socket refused: ${top}`
})

/** At most this many frames, and this many body bytes, in one packed multipart message. */
const MAX_FRAMES = 256
const MAX_BYTES = 1024 * 1024

const bytesOf = (frames: Frames): number => {
  let bytes = 0
  for (let i = 1; i < frames.length; i++) bytes += frames[i].length
  return bytes
}

const sameTopic = (a: Uint8Array, b: Uint8Array): boolean => a === b || Buffer.compare(a, b) === 0

interface Waiting {
  readonly attempt: () => boolean
  /** Called once: `true` when the attempt succeeded, `false` when the wait timed out. */
  done: ((ok: boolean) => void) | undefined
  readonly deadline: number
}

type Outcome = { readonly blocked: boolean; readonly progressed: boolean }

/**
 * Makes an outbox for a socket, with its writer fiber in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  socket: Writable,
  options: {
    readonly capacity: number
    readonly role: string
    readonly warnings: Warnings.Warnings
    /** Ms to wait before the first message is handed to the socket (messages queue meanwhile). */
    readonly delay?: number
  }
): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const data = new Fifo<Frames>()
    const controls = new Fifo<Frames>()
    const waiting = new Fifo<Waiting>()
    // Waiting senders get room back in bursts, once the queue is down to half: a slot at a time
    // would cost a suspend and resume of a sender per message.
    const lowWater = Math.floor(options.capacity / 2)
    const failedKind = sendFailed(options.role)
    let wake: (() => void) | undefined
    let drained: Array<() => void> = []

    // The writer wakes up in a microtask, not at once: the fiber that queued the message goes on
    // running first, and what it queues meanwhile (up to Effect's yield) goes out in one burst,
    // packed per topic, without waiting for a turn of the event loop.
    let scheduled = false
    const wakeUp = () => {
      scheduled = false
      if (wake !== undefined) {
        const resume = wake
        wake = undefined
        resume()
      }
    }
    const signal = () => {
      if (wake !== undefined && !scheduled) {
        scheduled = true
        queueMicrotask(wakeUp)
      }
    }

    /** Runs the waiting attempts in order until one fails. */
    const release = () => {
      let head: Waiting | undefined
      while ((head = waiting.peek()) !== undefined) {
        if (head.done === undefined) {
          waiting.shift() // abandoned (timed out or interrupted)
          continue
        }
        if (!head.attempt()) return
        waiting.shift()
        const done = head.done
        head.done = undefined
        done(true)
      }
    }

    /** Ends the waits whose deadline has passed; returns the next deadline. */
    const expire = (now: number): number => {
      let head: Waiting | undefined
      while ((head = waiting.peek()) !== undefined) {
        if (head.done !== undefined && head.deadline > now) return head.deadline
        waiting.shift()
        const done = head.done
        head.done = undefined
        done?.(false)
      }
      return Number.POSITIVE_INFINITY
    }

    /**
     * The first queued message together with those right behind it for the same topic, as one
     * multipart message (the topic, then every body), and how many queued messages that is. One
     * send and one receive then carry a burst to one channel or group: zeromq.js pays a promise,
     * a native call and a poll per message, not per frame.
     */
    const pack = (head: Frames): [Frames, number] => {
      const topic = head[0]
      let frames: Frames | undefined
      let count = 1
      let bytes = 0
      for (let i = 1; i < head.length; i++) bytes += head[i].length
      while (count < data.length) {
        const next = data.at(count)!
        const size = bytesOf(next)
        if (!sameTopic(next[0], topic) || (frames ?? head).length + next.length > MAX_FRAMES) break
        if (bytes + size > MAX_BYTES) break
        frames ??= head.slice()
        for (let i = 1; i < next.length; i++) frames.push(next[i])
        bytes += size
        count++
      }
      return [frames ?? head, count]
    }

    /**
     * Hands queued messages to the socket, sleeping while there are none; returns when the
     * socket refuses (EAGAIN) or is closed.
     */
    const write = async (): Promise<Outcome | undefined> => {
      let progressed = false
      for (;;) {
        const fromControl = controls.length > 0
        let count = 1
        let frames = fromControl ? controls.peek() : data.peek()
        if (frames !== undefined && !fromControl && data.length > 1) [frames, count] = pack(frames)
        if (frames === undefined) {
          if (drained.length > 0) { for (const resume of drained.splice(0)) resume() }
          await new Promise<void>((resume) => wake = resume)
          if (socket.closed) return undefined
          continue
        }
        try {
          await socket.send(frames)
        } catch (error) {
          if (socket.closed) return undefined
          if ((error as { code?: string }).code === "EAGAIN") return { blocked: true, progressed }
          options.warnings.report(failedKind, (error as Error).message ?? String(error))
        }
        progressed = true
        if (fromControl) controls.shift()
        else {
          for (let i = 0; i < count; i++) data.shift()
          if (waiting.length > 0 && data.length <= lowWater) release()
        }
      }
    }

    yield* Effect.gen(function*() {
      if (options.delay !== undefined && options.delay > 0) yield* Effect.sleep(Duration.millis(options.delay))
      let backoff = 1
      for (;;) {
        const outcome = yield* Effect.promise(write)
        if (outcome === undefined) return
        backoff = outcome.progressed ? 1 : Math.min(backoff * 2, 4)
        yield* Effect.sleep(Duration.millis(backoff))
      }
    }).pipe(Effect.interruptible, Effect.forkScoped)

    const offer = (frames: Frames): boolean => {
      if (data.length >= options.capacity) return false
      data.push(frames)
      signal()
      return true
    }

    const unsafeWhenRoom = (attempt: () => boolean, done: (ok: boolean) => void, deadline: number): Waiting => {
      const entry: Waiting = { attempt, done, deadline }
      waiting.push(entry)
      if (deadline !== Number.POSITIVE_INFINITY && timing !== undefined) {
        const resume = timing
        timing = undefined
        resume()
      }
      return entry
    }

    // The timer of the waits: sleeps until the first deadline (waits are queued in deadline
    // order: every sender of an outbox waits the same time), ends what is due, and sleeps while
    // nothing waits.
    let timing: (() => void) | undefined
    const nothingTimed = Effect.async<void>((resume) => {
      timing = () => resume(Effect.void)
      return Effect.sync(() => {
        timing = undefined
      })
    })
    yield* Effect.gen(function*() {
      for (;;) {
        const next = expire(clock.unsafeCurrentTimeMillis())
        if (next === Number.POSITIVE_INFINITY) yield* nothingTimed
        else yield* Effect.sleep(Duration.millis(Math.max(1, next - clock.unsafeCurrentTimeMillis())))
      }
    }).pipe(Effect.interruptible, Effect.forkScoped)

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
      whenRoom: (attempt, timeout) =>
        Effect.async<boolean>((resume) => {
          const entry = unsafeWhenRoom(
            attempt,
            (ok) => resume(Effect.succeed(ok)),
            clock.unsafeCurrentTimeMillis() + timeout
          )
          return Effect.sync(() => {
            entry.done = undefined
          })
        }),
      unsafeWhenRoom: (attempt, done) => {
        unsafeWhenRoom(attempt, done, Number.POSITIVE_INFINITY)
      },
      release,
      drain: (timeout) =>
        Effect.async<void>((resume) => {
          if ((data.length === 0 && controls.length === 0) || socket.closed) return resume(Effect.void)
          const done = () => resume(Effect.void)
          drained.push(done)
          return Effect.sync(() => {
            drained = drained.filter((item) => item !== done)
          })
        }).pipe(
          // Finalizers run uninterruptibly; the wait itself must be interruptible for the timeout.
          Effect.interruptible,
          Effect.timeout(Duration.millis(timeout)),
          Effect.ignore
        )
    }
  })
