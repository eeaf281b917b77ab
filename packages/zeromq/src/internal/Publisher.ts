/**
 * The publishing side of a PUB socket (an XPUB, so it sees subscriptions), shared by the embedded
 * layer and the proxy:
 *
 * - It reads subscriptions in one reader fiber (`verbose`, so every subscribe arrives, also for a
 *   topic someone else has) and answers each with an acknowledgement on that very topic: three
 *   frames, the subscription, an empty frame and this publisher's id. A subscriber that receives
 *   it knows its subscription is live here, whatever order libzmq resent subscriptions in.
 * - It tracks which subscriptions have subscribers, so a direct message for a process that has
 *   not subscribed yet is held (up to `holdTimeout`) and released the moment it does: the
 *   slow-joiner guard on the sending side. A message for a process that has left is dropped,
 *   counted and logged.
 * - It writes through an `Outbox` (the socket's one writer fiber), with `noDrop` on the socket so
 *   that the high-water mark shows up as back-pressure instead of silent loss.
 *
 * @since 0.1.0
 */
import type { Warnings } from "@channel-layer/core"
import { Fifo } from "@channel-layer/core/Fifo"
import type { MetricLabel, Scope } from "effect"
import { Duration, Effect, Schedule } from "effect"
import type * as zmq from "zeromq"
import * as ZeroMQMetrics from "../ZeroMQMetrics.js"
import type * as Outbox from "./Outbox.js"
import * as Reader from "./Reader.js"
import * as Topics from "./Topics.js"

/**
 * What happened to a direct message handed to a publisher: queued for the socket, held for a
 * process that has not subscribed yet, refused because the socket's queue (`full`) or the hold
 * (`hold-full`) is at capacity, or dropped (counted and logged) because its process left.
 *
 * @since 0.1.0
 * @category models
 */
export type Admission = "queued" | "held" | "full" | "hold-full" | "unroutable"

/**
 * The publishing side of an XPUB socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Publisher {
  /** The id this publisher puts in its acknowledgements. */
  readonly id: string
  readonly outbox: Outbox.Outbox
  /** Queues (or holds) a direct message for the process with `clientId`. */
  readonly direct: (clientId: string, frames: Outbox.Frames) => Admission
  /** Whether some subscriber has this subscription (`g:<group>\0`, `c:<client>\0`). */
  readonly subscribed: (subscription: string) => boolean
  /** Direct messages held for processes that have not subscribed yet. */
  readonly held: () => number
}

/**
 * What a publisher is made of.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly id: string
  readonly socket: zmq.XPublisher
  readonly outbox: Outbox.Outbox
  readonly role: string
  /** How long a direct message waits for its process to subscribe, in ms. */
  readonly holdTimeout: number
  /** At most this many direct messages are held at once. */
  readonly holdCapacity: number
  readonly warnings: Warnings.Warnings
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

interface Held {
  readonly frames: Outbox.Frames
  readonly deadline: number
}

const unroutable = (role: string): Warnings.Kind => ({
  key: `unroutable:${role}`,
  render: (total, top) =>
    `${role}: dropped ${total} direct messages for processes that are not subscribed (they left, or did not ` +
    `subscribe within the hold time); per client id: ${top}`
})

const SUBSCRIBE = 1
const EMPTY = new Uint8Array(0)
const goneLimit = 10_000

/**
 * Makes the publishing side of an XPUB socket, with its subscription reader and hold sweeper in
 * the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Publisher, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const { outbox, warnings, labels } = options
    const idFrame = Buffer.from(options.id, "latin1")
    const unroutableKind = unroutable(options.role)
    const live = new Set<string>()
    const liveClients = new Set<string>()
    const gone = new Set<string>()
    const holds = new Map<string, Fifo<Held>>()
    let heldCount = 0
    const markGone = (clientId: string) => {
      if (gone.size >= goneLimit) gone.delete(gone.values().next().value!)
      gone.add(clientId)
    }

    const onSubscription = (frame: Buffer) => {
      if (frame.length < 2) return
      const topic = frame.subarray(1)
      const subscription = topic.toString("latin1")
      const isDirect = topic[0] === Topics.DIRECT_BYTE && topic[topic.length - 1] === 0
      if (frame[0] === SUBSCRIBE) {
        live.add(subscription)
        outbox.control([topic, EMPTY, idFrame])
        if (isDirect) {
          const clientId = subscription.slice(2, -1)
          liveClients.add(clientId)
          gone.delete(clientId)
          const held = holds.get(clientId)
          if (held !== undefined) {
            holds.delete(clientId)
            heldCount -= held.length
            for (const item of held.drain()) outbox.force(item.frames)
            outbox.release()
          }
        }
      } else {
        live.delete(subscription)
        if (isDirect) {
          const clientId = subscription.slice(2, -1)
          liveClients.delete(clientId)
          markGone(clientId)
        }
      }
    }

    yield* Reader.start(options.socket, options.role, (frames) => onSubscription(frames[0]))

    const sweep = Effect.sync(() => {
      const time = now()
      for (const [clientId, held] of holds) {
        let head: Held | undefined
        let dropped = 0
        while ((head = held.peek()) !== undefined && head.deadline <= time) {
          held.shift()
          dropped++
        }
        if (dropped > 0) {
          heldCount -= dropped
          warnings.report(unroutableKind, clientId, dropped)
          ZeroMQMetrics.messagesUnroutable.unsafeUpdate(dropped, labels)
        }
        if (held.length === 0) {
          holds.delete(clientId)
          markGone(clientId)
        }
      }
      outbox.release()
    })
    const sweepEvery = Duration.millis(Math.min(250, Math.max(10, options.holdTimeout / 4)))
    yield* sweep.pipe(Effect.repeat(Schedule.spaced(sweepEvery)), Effect.interruptible, Effect.forkScoped)

    const direct = (clientId: string, frames: Outbox.Frames): Admission => {
      if (liveClients.has(clientId)) return outbox.offer(frames) ? "queued" : "full"
      let held = holds.get(clientId)
      if (held === undefined) {
        if (gone.has(clientId)) {
          warnings.report(unroutableKind, clientId)
          ZeroMQMetrics.messagesUnroutable.unsafeUpdate(1, labels)
          return "unroutable"
        }
        if (heldCount >= options.holdCapacity) return "hold-full"
        holds.set(clientId, held = new Fifo())
      } else if (heldCount >= options.holdCapacity) return "hold-full"
      held.push({ frames, deadline: now() + options.holdTimeout })
      heldCount++
      ZeroMQMetrics.messagesHeld.unsafeUpdate(1, labels)
      return "held"
    }

    return {
      id: options.id,
      outbox,
      direct,
      subscribed: (subscription) => live.has(subscription),
      held: () => heldCount
    }
  })
