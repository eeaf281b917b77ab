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
import { Codec, type LocalQueues, Metrics } from "@channel-layer/core"
import type { Effect, MetricLabel, Scope } from "effect"

import { Either } from "effect"
import type * as zmq from "zeromq"
import * as ZeroMQMetrics from "../ZeroMQMetrics.js"
import type * as Confirmations from "./Confirmations.js"
import * as Reader from "./Reader.js"
import * as Topics from "./Topics.js"
import type * as Warnings from "./Warnings.js"

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
  readonly warnings: Warnings.Warnings
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

const malformed: Warnings.Kind = {
  key: "malformed",
  render: (total, top) => `dropped ${total} received frames that are not channel-layer messages: ${top}`
}

const expiredInTransit: Warnings.Kind = {
  key: "expired-in-transit",
  render: (total, top) =>
    `dropped ${total} messages that expired before they arrived (a slow link, or clocks that disagree): ${top}`
}

/**
 * Starts the reader fiber of the SUB socket in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<void, never, Scope.Scope> => {
  const { clientId, confirmations, labels, queues, warnings } = options
  const fromSelf = Topics.sentBy(clientId)

  const drop = (reason: string) => {
    warnings.report(malformed, reason)
    ZeroMQMetrics.messagesMalformed.unsafeUpdate(1, labels)
  }

  const deliver = (body: Uint8Array, kind: number) => {
    const decoded = Codec.decode(body)
    if (Either.isLeft(decoded)) return drop(decoded.left.reason)
    const { channel, expiresAt, group, message } = decoded.right
    const now = queues.now()
    const deadline = expiresAt ?? now + options.expiry
    if (kind === Topics.DIRECT_BYTE) {
      if (channel === undefined || Topics.clientIdOf(channel) !== clientId) {
        return drop("a direct message for a channel of another process")
      }
      if (deadline <= now) return expired(channel)
      queues.unsafeDeliverDirect(channel, message, deadline, "drop")
    } else {
      if (group === undefined) return drop("a group topic with a direct body")
      if (deadline <= now) return expired(group)
      queues.unsafeDeliverGroup(group, message, deadline)
    }
  }

  const expired = (name: string) => {
    warnings.report(expiredInTransit, name)
    Metrics.messagesExpired.unsafeUpdate(1, labels)
  }

  const handle = (frames: Array<Buffer>) => {
    const topic = frames[0]
    if (frames.length === 3 && frames[1].length === 0) {
      confirmations.onAck(topic.toString("latin1"), frames[2].toString("latin1"))
      return
    }
    if (frames.length !== 2) return drop(`${frames.length} frames instead of 2 (topic, body)`)
    const kind = topic[0]
    if (kind === Topics.GROUP_BYTE) {
      if (!fromSelf(topic)) deliver(frames[1], kind)
    } else if (kind === Topics.DIRECT_BYTE) {
      deliver(frames[1], kind)
    } else {
      drop("an unknown topic")
    }
  }

  return Reader.start(options.socket, "the SUB socket", handle)
}
