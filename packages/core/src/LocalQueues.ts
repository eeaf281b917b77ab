/**
 * The per-process buffer that the broker transports share, and that the in-memory layer is built
 * on: one FIFO per local channel, local group membership, and the bookkeeping that ties one
 * incoming broker delivery to its acknowledgement.
 *
 * - A delivery for a group is fanned out to every local member; it is acknowledged (its `ack`
 *   callback runs) only once every member took it, or it expired, or it was dropped.
 * - `localCapacity` is the number of unacknowledged deliveries the broker may hand over (its
 *   prefetch). When that many are waiting, a debounced back-pressure warning names the channels
 *   that hold them.
 * - Every delivery carries an expiry deadline; a background fiber drops expired deliveries and
 *   logs a debounced warning naming the biggest queues. Time comes from Effect's `Clock`, so
 *   `TestClock` drives expiry in tests. Warnings go through a `Warnings` sink (the layer's own,
 *   shared with its transport, or one of the queues' own).
 * - A channel may have a capacity; a delivery to a full channel is rejected (direct, when the
 *   caller asks for that) or dropped for that channel, counted and logged.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect, Schedule } from "effect"
import { LayerClosed } from "./Errors.js"
import { Fifo } from "./Fifo.js"
import { coarseNow, liveClock } from "./internal/hotPath.js"
import * as Message from "./Message.js"
import * as Metrics from "./Metrics.js"
import * as Warnings from "./Warnings.js"

/**
 * Options of a set of local queues.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The metric label and log annotation of the owning transport. */
  readonly transport: string
  /** The capacity of a local channel; unbounded when absent (a broker's prefetch bounds it). */
  readonly channelCapacity?: (channel: string) => number
  /** Unacknowledged deliveries at which back-pressure is reported (the broker's prefetch). */
  readonly localCapacity?: number
  /** How often expired deliveries are dropped (default: 1 second). */
  readonly sweepInterval?: Duration.DurationInput
  /** Where warnings go (default: a sink of the queues' own, see `warningInterval`). */
  readonly warnings?: Warnings.Warnings
  /** Without `warnings`: at most one warning of each kind per this interval (default: 10 seconds). */
  readonly warningInterval?: Duration.DurationInput
}

/**
 * What a direct delivery to a full channel does: `"reject"` returns `false` to the caller (who
 * fails the send with `ChannelFull`), `"drop"` drops it with a count and a warning.
 *
 * @since 0.1.0
 * @category models
 */
export type WhenFull = "reject" | "drop"

/** One incoming message, shared by every local channel it was fanned out to. */
class Delivery {
  constructor(
    readonly message: Message.Message,
    readonly expiresAt: number,
    /** Channels that have yet to take, expire or drop it. */
    public remaining: number,
    readonly ack: (() => void) | undefined
  ) {}
}

interface Waiter {
  readonly resume: (effect: Effect.Effect<Message.Message, LayerClosed>) => void
  /** Set when a delivery was handed over, in case the receive is interrupted at that instant. */
  handed: Delivery | undefined
}

class ChannelState {
  readonly buffer = new Fifo<Delivery>()
  readonly waiters: Array<Waiter> = []
  constructor(readonly capacity: number) {}
}

const biggest = (counts: Map<string, number>, top = 5): string =>
  [...counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, n]) => `${name} (${n})`).join(", ")

const droppedFull: Warnings.Kind = {
  key: "channel-full",
  render: (total, top) => `channel full: dropped ${total} messages for full channels: ${top}`
}

/**
 * What local queues hold at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Channels with buffered messages or waiting receivers (idle channels are forgotten). */
  readonly channels: number
  /** Groups with at least one local member. */
  readonly groups: number
  /** Messages waiting in channel buffers. */
  readonly buffered: number
  /** Deliveries not yet acknowledged to the transport. */
  readonly unacknowledged: number
}

/**
 * Local queues: see the module documentation.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalQueues {
  /** The current time in epoch milliseconds, from the Effect `Clock` the queues were made with. */
  readonly now: () => number
  /**
   * Hands a message to one local channel. Returns `false` when the channel is full and `whenFull`
   * is `"reject"`; the message was not taken (and `ack` ran).
   */
  readonly unsafeDeliverDirect: (
    channel: string,
    message: Message.Message,
    expiresAt: number,
    whenFull: WhenFull,
    ack?: () => void
  ) => boolean
  /** Fans a message out to every local member of a group; returns how many members took it. */
  readonly unsafeDeliverGroup: (
    group: string,
    message: Message.Message,
    expiresAt: number,
    ack?: () => void
  ) => number
  /** Waits for the next message of a local channel; fails with `LayerClosed` once closed. */
  readonly receive: (channel: string) => Effect.Effect<Message.Message, LayerClosed>
  /**
   * {@link receive} without its `Effect.suspend`: call it when the effect runs (inside a
   * `suspend` or `withFiberRuntime` of the caller's), as it reads the channel's state at once.
   */
  readonly unsafeReceive: (channel: string) => Effect.Effect<Message.Message, LayerClosed>
  /** Adds a local member; `true` when it is the group's first local member (bind the group). */
  readonly unsafeGroupAdd: (group: string, channel: string) => boolean
  /** Removes a local member; `true` when it was the group's last local member (unbind it). */
  readonly unsafeGroupDiscard: (group: string, channel: string) => boolean
  /** The groups that have at least one local member. */
  readonly groups: () => ReadonlyArray<string>
  /** The local members of a group. */
  readonly members: (group: string) => ReadonlySet<string>
  /** Messages waiting in a channel's buffer. */
  readonly size: (channel: string) => number
  /** Deliveries handed over by the transport and not yet acknowledged. */
  readonly unacknowledged: () => number
  /** Counts of what the queues hold now: channels with state, groups, buffered and unacknowledged. */
  readonly stats: () => Stats
  /** Drops every buffered message (acknowledging it) and every group membership. */
  readonly unsafeFlush: () => void
  /** Drops expired deliveries now (the background fiber does this every `sweepInterval`). */
  readonly sweep: Effect.Effect<void>
  /** Whether the queues are closed. */
  readonly isClosed: () => boolean
}

/**
 * Makes local queues whose expiry fiber lives in the current scope; closing the scope ends every
 * pending `receive` with `LayerClosed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<LocalQueues, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const now = clock === liveClock ? coarseNow : () => clock.unsafeCurrentTimeMillis()
    const labels = Metrics.transportLabel(options.transport)
    const channelCapacity = options.channelCapacity ?? (() => Number.POSITIVE_INFINITY)
    const localCapacity = options.localCapacity ?? Number.POSITIVE_INFINITY
    const warnings = options.warnings ??
      (yield* Warnings.make(options.warningInterval !== undefined ? { interval: options.warningInterval } : {}))

    const channels = new Map<string, ChannelState>()
    const groupMembers = new Map<string, Set<string>>()
    let closed = false
    let pending = 0
    let buffered = 0

    const queueSizes = (): Map<string, number> => {
      const sizes = new Map<string, number>()
      for (const [channel, state] of channels) if (state.buffer.length > 0) sizes.set(channel, state.buffer.length)
      return sizes
    }
    // Their lines name the biggest queues at the moment they are logged.
    const expiredKind: Warnings.Kind = {
      key: "local-expiry",
      render: (total, top) =>
        `local expiry: dropped ${total} undelivered messages; expired per channel: ${top}; ` +
        `biggest queues now: ${biggest(queueSizes()) || "none"}`
    }
    /** The most deliveries awaiting receivers at once since the last back-pressure warning. */
    let pressurePeak = 0
    const backPressureKind: Warnings.Kind = {
      key: "back-pressure",
      render: () => {
        const peak = pressurePeak
        pressurePeak = 0
        return `back-pressure: up to ${peak} deliveries awaited receivers (localCapacity ${localCapacity}); ` +
          `the broker pauses until they are received or expire; biggest queues now: ${biggest(queueSizes()) || "none"}`
      }
    }

    const stateOf = (channel: string): ChannelState => {
      let state = channels.get(channel)
      if (state === undefined) {
        state = new ChannelState(channelCapacity(channel))
        channels.set(channel, state)
      }
      return state
    }

    const forgetIfIdle = (channel: string, state: ChannelState) => {
      if (state.buffer.length === 0 && state.waiters.length === 0) channels.delete(channel)
    }

    /** One channel is done with a delivery (took, expired or dropped it). */
    const release = (delivery: Delivery) => {
      if (--delivery.remaining === 0 && delivery.ack !== undefined) {
        pending--
        delivery.ack()
      }
    }

    /** The message a channel gets out of a delivery: a copy unless it is the last to take it. */
    const take = (delivery: Delivery): Message.Message => {
      const message = delivery.remaining > 1 ? Message.clone(delivery.message) : delivery.message
      release(delivery)
      Metrics.messagesReceived.unsafeUpdate(1, labels)
      return message
    }

    const expire = (channel: string, delivery: Delivery) => {
      buffered--
      warnings.report(expiredKind, channel)
      Metrics.messagesExpired.unsafeUpdate(1, labels)
      release(delivery)
    }

    /** Puts a delivery into one channel; `false` when the channel is full. */
    const offer = (channel: string, delivery: Delivery): boolean => {
      const state = stateOf(channel)
      if (state.waiters.length > 0) {
        const waiter = state.waiters.shift()!
        waiter.handed = delivery
        waiter.resume(Effect.succeed(take(delivery)))
        return true
      }
      if (state.buffer.length >= state.capacity) {
        forgetIfIdle(channel, state)
        return false
      }
      state.buffer.push(delivery)
      buffered++
      return true
    }

    /**
     * A message handed to a receive that was interrupted before it took it (the hand-over and the
     * interruption raced): to the next waiting receive of its channel, or to the front of the
     * channel, ahead of what came after it (it was admitted once already, whatever the capacity).
     */
    const giveBack = (channel: string, handed: Delivery) => {
      if (closed) return
      const state = stateOf(channel)
      const delivery = new Delivery(handed.message, handed.expiresAt, 1, undefined)
      if (state.waiters.length > 0) {
        offer(channel, delivery)
        return
      }
      state.buffer.unshift(delivery)
      buffered++
    }

    const dropFull = (channel: string, delivery: Delivery) => {
      warnings.report(droppedFull, channel)
      Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
      release(delivery)
    }

    const track = (delivery: Delivery) => {
      if (delivery.ack === undefined) return
      pending++
      if (pending >= localCapacity) {
        pressurePeak = Math.max(pressurePeak, pending)
        warnings.report(backPressureKind, "")
      }
    }

    const unsafeDeliverDirect: LocalQueues["unsafeDeliverDirect"] = (channel, message, expiresAt, whenFull, ack) => {
      if (closed) {
        ack?.()
        return true
      }
      const delivery = new Delivery(message, expiresAt, 1, ack)
      track(delivery)
      if (offer(channel, delivery)) return true
      if (whenFull === "reject") {
        Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
        release(delivery)
        return false
      }
      dropFull(channel, delivery)
      return true
    }

    const unsafeDeliverGroup: LocalQueues["unsafeDeliverGroup"] = (group, message, expiresAt, ack) => {
      if (closed) {
        ack?.()
        return 0
      }
      const members = groupMembers.get(group)
      // One extra reference held while fanning out, so a member taking it at once cannot ack early.
      const delivery = new Delivery(message, expiresAt, (members?.size ?? 0) + 1, ack)
      track(delivery)
      let taken = 0
      if (members !== undefined) {
        for (const channel of members) {
          if (offer(channel, delivery)) taken++
          else dropFull(channel, delivery)
        }
      }
      release(delivery)
      return taken
    }

    const unsafeReceive = (channel: string): Effect.Effect<Message.Message, LayerClosed> => {
      if (closed) return Effect.fail(new LayerClosed())
      const state = stateOf(channel)
      const time = now()
      let delivery: Delivery | undefined
      while ((delivery = state.buffer.shift()) !== undefined) {
        if (delivery.expiresAt <= time) {
          expire(channel, delivery)
          continue
        }
        buffered--
        forgetIfIdle(channel, state)
        return Effect.succeed(take(delivery))
      }
      return Effect.async<Message.Message, LayerClosed>((resume) => {
        const waiter: Waiter = { resume, handed: undefined }
        state.waiters.push(waiter)
        return Effect.sync(() => {
          const index = state.waiters.indexOf(waiter)
          if (index !== -1) state.waiters.splice(index, 1)
          else if (waiter.handed !== undefined) giveBack(channel, waiter.handed)
          forgetIfIdle(channel, state)
        })
      })
    }

    const receive = (channel: string): Effect.Effect<Message.Message, LayerClosed> =>
      Effect.suspend(() => unsafeReceive(channel))

    const unsafeGroupAdd = (group: string, channel: string): boolean => {
      let members = groupMembers.get(group)
      if (members === undefined) {
        members = new Set()
        groupMembers.set(group, members)
      }
      const before = members.size
      members.add(channel)
      return before === 0 && members.size === 1
    }

    const unsafeGroupDiscard = (group: string, channel: string): boolean => {
      const members = groupMembers.get(group)
      if (members === undefined || !members.delete(channel)) return false
      if (members.size > 0) return false
      groupMembers.delete(group)
      return true
    }

    const sweepNow = () => {
      const time = now()
      for (const [channel, state] of channels) {
        let head: Delivery | undefined
        while ((head = state.buffer.peek()) !== undefined && head.expiresAt <= time) {
          state.buffer.shift()
          expire(channel, head)
        }
        forgetIfIdle(channel, state)
      }
      Metrics.bufferedMessages.unsafeUpdate(buffered, labels)
    }

    const sweep = Effect.sync(sweepNow)

    yield* sweep.pipe(
      Effect.repeat(Schedule.spaced(options.sweepInterval ?? Duration.seconds(1))),
      Effect.interruptible,
      Effect.forkScoped
    )

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const state of channels.values()) {
          for (const waiter of state.waiters) waiter.resume(Effect.fail(new LayerClosed()))
          state.waiters.length = 0
        }
        channels.clear()
        groupMembers.clear()
        buffered = 0
      })
    )

    return {
      now,
      unsafeDeliverDirect,
      unsafeDeliverGroup,
      receive,
      unsafeReceive,
      unsafeGroupAdd,
      unsafeGroupDiscard,
      groups: () => [...groupMembers.keys()],
      members: (group) => groupMembers.get(group) ?? new Set(),
      size: (channel) => channels.get(channel)?.buffer.length ?? 0,
      unacknowledged: () => pending,
      stats: () => ({ channels: channels.size, groups: groupMembers.size, buffered, unacknowledged: pending }),
      unsafeFlush: () => {
        for (const [channel, state] of channels) {
          for (const delivery of state.buffer.drain()) {
            buffered--
            release(delivery)
          }
          forgetIfIdle(channel, state)
        }
        groupMembers.clear()
      },
      sweep,
      isClosed: () => closed
    }
  })
