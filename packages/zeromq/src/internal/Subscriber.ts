/**
 * The receiving side of a layer: the SUB socket's reader fiber, which decodes what arrives and
 * hands it to `LocalQueues` (direct messages to their channel, group messages to every local
 * member), and passes subscription acknowledgements to `Confirmations`.
 *
 * Nothing here fails: a frame that is not a channel-layer message, a message that expired on the
 * way, a group message this process sent itself (already delivered locally) are each dropped,
 * and the first two are counted and logged.
 *
 * @since 0.1.0
 */
import { Codec, type LocalQueues, type Message, Metrics, type Warnings } from "@channel-layer/core"
import type { MetricLabel, Scope } from "effect"
import { Effect, Either } from "effect"
import type * as zmq from "zeromq"
import * as ZeroMQMetrics from "../ZeroMQMetrics.js"
import type * as Confirmations from "./Confirmations.js"
import * as Reader from "./Reader.js"
import * as Topics from "./Topics.js"

/**
 * What the reader needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly socket: zmq.Subscriber
  readonly clientId: string
  readonly queues: LocalQueues.LocalQueues
  readonly confirmations: Confirmations.Confirmations
  /** Expiry (ms) of a message whose sender gave no deadline. */
  readonly expiry: number
  /** The capacity of a local channel. */
  readonly capacityOf: (channel: string) => number
  /** How long (ms) the reader waits for room in a full channel before it drops for that channel. */
  readonly fullChannelTimeout: number
  readonly warnings: Warnings.Warnings
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

const malformed: Warnings.Kind = {
  key: "malformed",
  render: (total, top) => `dropped ${total} received frames that are not channel-layer messages: ${top}`
}

const abandonedKind: Warnings.Kind = {
  key: "abandoned",
  render: (total, top) =>
    `${total} channels stayed full for fullChannelTimeout: their messages are dropped until they have room ` +
    `(a receiver that stopped receiving?): ${top}`
}

const expiredInTransit: Warnings.Kind = {
  key: "expired-in-transit",
  render: (total, top) =>
    `dropped ${total} messages that expired before they arrived (a slow link, or clocks that disagree): ${top}`
}

/**
 * What the service tells the reader.
 *
 * @since 0.1.0
 * @category models
 */
export interface Receiving {
  /** A receive on a local channel is under way (it may have made room). */
  readonly onReceive: (channel: string) => void
}

/**
 * Starts the reader fiber of the SUB socket in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Receiving, never, Scope.Scope> => {
  const { clientId, confirmations, labels, queues, warnings } = options
  const fromSelf = Topics.sentBy(clientId)

  const drop = (reason: string) => {
    warnings.report(malformed, reason)
    ZeroMQMetrics.messagesMalformed.unsafeUpdate(1, labels)
  }

  /**
   * Channels that stayed full for `fullChannelTimeout`: their messages are dropped (by
   * `LocalQueues`, counted and logged) without stopping the reader, until they have room again.
   */
  const abandoned = new Set<string>()
  /** The full channel the reader waits for, and how to check it again. */
  let watching: { readonly channel: string; readonly check: () => void } | undefined

  /** A full local channel the reader should wait for, if any (and forgets channels with room). */
  const blocking = (channels: Iterable<string>): string | undefined => {
    for (const channel of channels) {
      if (queues.size(channel) < options.capacityOf(channel)) abandoned.delete(channel)
      else if (!abandoned.has(channel)) return channel
    }
    return undefined
  }

  /**
   * Waits until `channel` has room or `fullChannelTimeout` passed. Meanwhile the SUB socket is not
   * read, its high-water mark fills up, and the senders feel it: their sends wait and then fail
   * with ChannelFull instead of the messages being dropped here.
   */
  const roomIn = (channel: string): Promise<void> => {
    const deadline = queues.now() + options.fullChannelTimeout
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = () => {
        watching = undefined
        clearTimeout(timer)
        resolve()
      }
      // Checked when this channel's receiver takes a message (`onReceive`), and every 10 ms for
      // room made otherwise (expiry) and for the deadline.
      const check = () => {
        if (queues.isClosed() || queues.size(channel) < options.capacityOf(channel)) return done()
        if (queues.now() >= deadline) {
          abandoned.add(channel)
          warnings.report(abandonedKind, channel)
          return done()
        }
        clearTimeout(timer)
        timer = setTimeout(check, 10)
      }
      watching = { channel, check }
      check()
    })
  }

  /** A decoded message that is ready to be handed over, or why not. */
  type Ready =
    | { readonly direct: true; readonly channel: string; readonly message: Message.Message; readonly deadline: number }
    | { readonly direct: false; readonly group: string; readonly message: Message.Message; readonly deadline: number }

  const decode = (body: Uint8Array, kind: number): Ready | undefined => {
    const decoded = Codec.decode(body)
    if (Either.isLeft(decoded)) return void drop(decoded.left.reason)
    const { channel, expiresAt, group, message } = decoded.right
    const now = queues.now()
    const deadline = expiresAt ?? now + options.expiry
    if (kind === Topics.DIRECT_BYTE) {
      if (channel === undefined || Topics.clientIdOf(channel) !== clientId) {
        return void drop("a direct message for a channel of another process")
      }
      if (deadline <= now) return void expired(channel)
      return { direct: true, channel, message, deadline }
    }
    if (group === undefined) return void drop("a group topic with a direct body")
    if (deadline <= now) return void expired(group)
    return { direct: false, group, message, deadline }
  }

  const hand = (ready: Ready) => {
    if (ready.direct) queues.unsafeDeliverDirect(ready.channel, ready.message, ready.deadline, "drop")
    else queues.unsafeDeliverGroup(ready.group, ready.message, ready.deadline)
  }

  /** Hands a message over, first waiting for room in every full channel it goes to. */
  const handAfterRoom = async (ready: Ready): Promise<void> => {
    const channels = ready.direct ? [ready.channel] : queues.members(ready.group)
    let full: string | undefined
    while ((full = blocking(channels)) !== undefined) await roomIn(full)
    hand(ready)
  }

  const expired = (name: string) => {
    warnings.report(expiredInTransit, name)
    Metrics.messagesExpired.unsafeUpdate(1, labels)
  }

  /** Hands over the bodies from `from` on; a promise when it has to wait for room somewhere. */
  const deliverFrom = (frames: Array<Buffer>, from: number, kind: number): void | Promise<void> => {
    for (let i = from; i < frames.length; i++) {
      const ready = decode(frames[i], kind)
      if (ready === undefined) continue
      const full = blocking(ready.direct ? [ready.channel] : queues.members(ready.group))
      if (full === undefined) hand(ready)
      else return handAfterRoom(ready).then(() => deliverFrom(frames, i + 1, kind))
    }
  }

  const handle = (frames: Array<Buffer>): void | Promise<void> => {
    const topic = frames[0]
    if (frames.length === 3 && frames[1].length === 0) {
      confirmations.onAck(topic.toString("latin1"), frames[2].toString("latin1"))
      return
    }
    if (frames.length < 2) return drop("a topic without a body")
    const kind = topic[0]
    if (kind === Topics.GROUP_BYTE) {
      if (fromSelf(topic)) return
    } else if (kind !== Topics.DIRECT_BYTE) {
      return drop("an unknown topic")
    }
    // The topic, then one body per message (a sender packs a burst for one topic together).
    return deliverFrom(frames, 1, kind)
  }

  return Effect.as(Reader.start(options.socket, "the SUB socket", handle), {
    onReceive: (channel: string) => {
      // After the receive has taken its message (it runs first, in the same fiber step).
      if (watching !== undefined && watching.channel === channel) queueMicrotask(watching.check)
    }
  })
}
