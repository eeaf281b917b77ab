/**
 * The `ChannelLayer` service of both ZeroMQ modes, on top of what each mode wires up: where
 * direct and group messages for other processes go (the embedded PUB socket, or the PUSH socket to
 * the proxy), the SUB socket's subscriptions and `LocalQueues`.
 *
 * - Channels are process-local only (`<prefix>.<client id>!<random>`): a normal channel has no
 *   process to route to, and a PUB/SUB fan-out cannot hand one message to exactly one of several
 *   receivers. `send` and `receive` on a normal channel fail with `InvalidChannelName` saying so.
 * - A send to a channel of this process, and a group send to its local members, are delivered
 *   in-process; everything else is encoded once and queued for the sending socket. Either way
 *   `maxMessageSize` applies to the size the message has (or would have) on the wire.
 * - `capacity` is the size of each local channel's buffer: a send from this process to a full
 *   local channel fails with `ChannelFull`. When a message from another process arrives for a full
 *   channel, the SUB socket stops reading until the channel has room (up to
 *   `fullChannelTimeout`), so the back-pressure travels back through ZeroMQ's high-water marks to
 *   the sender, whose send then fails with `ChannelFull`; a channel that stays full is dropped for
 *   (counted and logged) until it has room again.
 *   A send that the sending socket cannot take (its high-water mark is reached and its queue is
 *   full) waits up to `sendTimeout` for room, then fails with `ChannelFull` too, or with
 *   `ConnectionClosed` when the socket has no connection (the proxy is down). A group send in
 *   that situation drops the message for the other processes (counted and logged) instead.
 *
 * @since 0.1.0
 */
import {
  ChannelLayer,
  ChannelName,
  Codec,
  Errors,
  type LocalQueues,
  Message as CoreMessage,
  Metrics
} from "@channel-layer/core"
import type { MetricLabel, Scope } from "effect"
import { Effect, Either } from "effect"
import * as ZeroMQMetrics from "../ZeroMQMetrics.js"
import type * as Confirmations from "./Confirmations.js"
import type * as Outbox from "./Outbox.js"
import type * as Publisher from "./Publisher.js"
import type { LayerSettings } from "./Settings.js"
import * as Topics from "./Topics.js"
import type * as Warnings from "./Warnings.js"

/**
 * What a mode provides to the service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Wiring {
  readonly clientId: string
  readonly settings: LayerSettings
  readonly queues: LocalQueues.LocalQueues
  readonly confirmations: Confirmations.Confirmations
  readonly warnings: Warnings.Warnings
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  /** Queues a direct message for another process. */
  readonly direct: (clientId: string, frames: Outbox.Frames) => Publisher.Admission
  /** Whether a group message must leave the process (someone else may have members). */
  readonly groupLeaves: (subscription: string) => boolean
  /** Queues a group message for other processes; `false` when the socket's queue is full. */
  readonly group: (frames: Outbox.Frames) => boolean
  /**
   * Waits until `attempt` succeeds (`true`), run each time the sending socket's queue (or hold)
   * makes room, or `timeout` ms passed (`false`).
   */
  readonly whenRoom: (attempt: () => boolean, timeout: number) => Effect.Effect<boolean>
  /** Whether the sending socket has a connection to hand messages to (the proxy, in dedicated mode). */
  readonly reachable: () => boolean
  /** Words for a `ConnectionClosed` when it has not ("the proxy at tcp://..."). */
  readonly unreachable: () => string
  /** Told of each receive on a local channel (the reader may be waiting for room in it). */
  readonly onReceive: (channel: string) => void
  /** Waits (up to `timeout` ms) until queued messages were handed to the socket. */
  readonly drain: (timeout: number) => Effect.Effect<void>
}

const normalChannel = (channel: string) =>
  new Errors.InvalidChannelName({
    channel,
    reason: "the ZeroMQ layer carries only process-local channels (name!suffix, made by newChannel): a normal " +
      "channel has no process to route to"
  })

const notOwn = (channel: string, what: string) =>
  new Errors.InvalidChannelName({
    channel,
    reason: `${what} only on channels made by this layer's newChannel (their client id is not this layer's)`
  })

const prefixPattern = /^[a-zA-Z\d\-_.]+$/

const backPressure = (role: string): Warnings.Kind => ({
  key: "back-pressure",
  render: (total, top) =>
    `back-pressure: ${total} sends failed with ChannelFull because ${role} is at its high-water mark and ` +
    `sendHighWaterMark messages wait (subscribers too slow, or gone without a disconnect): ${top}`
})

const groupDropped = (role: string): Warnings.Kind => ({
  key: "group-dropped",
  render: (total, top) =>
    `back-pressure: dropped ${total} group messages because ${role} is at its high-water mark: ${top}`
})

/**
 * Makes the service. Closing the scope makes every call fail with `LayerClosed`, waits (up to
 * `linger`) for queued messages to be handed to the socket, and fails waiting confirmations.
 * Register it after every fiber of the mode, so that this runs first when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  wiring: Wiring,
  role: string
): Effect.Effect<ChannelLayer.ChannelLayerService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { clientId, confirmations, labels, queues, settings, warnings } = wiring
    const { expiry, maxMessageSize } = settings
    const own = Topics.directSubscription(clientId)
    const topics = new Topics.TopicCache(clientId)
    const backPressureKind = backPressure(role)
    const groupDroppedKind = groupDropped(role)
    let closed = false

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        confirmations.close()
        return wiring.drain(settings.linger)
      })
    )

    const isClosed = () => closed || queues.isClosed()

    const encode = (message: CoreMessage.Message, envelope: Codec.Envelope) => {
      const body = Codec.encode(message, envelope)
      return body.length > maxMessageSize
        ? Either.left(new Errors.MessageTooLarge({ size: body.length, maxSize: maxMessageSize }))
        : Either.right(body)
    }

    /**
     * The size limit of a message delivered in the process without encoding: the size it would
     * have on the wire (the same envelope), so the answer does not depend on where the recipient is.
     */
    const tooLarge = (message: CoreMessage.Message, envelope: Codec.Envelope) => {
      const size = Codec.encodedSizeOver(message, envelope, maxMessageSize)
      return size === undefined ? undefined : new Errors.MessageTooLarge({ size, maxSize: maxMessageSize })
    }

    const unreachable = () => new Errors.ConnectionClosed({ reason: wiring.unreachable() })

    /** A send or group send that succeeded: counted here (see `instrument`'s `countsSent`). */
    const sent = (): Effect.Effect<void> => {
      Metrics.messagesSent.unsafeUpdate(1, labels)
      return Effect.void
    }

    /**
     * Waits (up to `sendTimeout`) until `attempt` succeeds when the sending socket's queue makes
     * room; otherwise `otherwise` decides (fail, or drop and log).
     */
    const whenRoom = <E>(
      attempt: () => boolean,
      otherwise: () => Effect.Effect<void, E>
    ): Effect.Effect<void, E | Errors.LayerClosed> =>
      Effect.flatMap(
        wiring.whenRoom(attempt, settings.sendTimeout),
        (ok): Effect.Effect<void, E | Errors.LayerClosed> =>
          ok ? (isClosed() ? Effect.fail(new Errors.LayerClosed()) : sent()) : otherwise()
      )

    const send: ChannelLayer.ChannelLayerService["send"] = (channel, message) =>
      Effect.suspend((): Effect.Effect<void, ChannelLayer.SendError> => {
        if (isClosed()) return Effect.fail(new Errors.LayerClosed())
        const problem = ChannelName.channelNameProblem(channel)
        if (problem !== undefined) return Effect.fail(problem)
        const owner = Topics.clientIdOf(channel)
        if (owner === undefined) return Effect.fail(normalChannel(channel))
        const copied = CoreMessage.copy(message)
        if (Either.isLeft(copied)) return Effect.fail(copied.left)
        const expiresAt = queues.now() + expiry
        if (owner === clientId) {
          const large = tooLarge(copied.right, { channel, expiresAt })
          if (large !== undefined) return Effect.fail(large)
          return queues.unsafeDeliverDirect(channel, copied.right, expiresAt, "reject")
            ? sent()
            : Effect.fail(Errors.channelFull(channel, settings.capacityOf(channel)))
        }
        const body = encode(copied.right, { channel, expiresAt })
        if (Either.isLeft(body)) return Effect.fail(body.left)
        const frames = [topics.directTopic(owner), body.right]
        const attempt = () => {
          const admission = wiring.direct(owner, frames)
          return admission !== "full" && admission !== "hold-full"
        }
        if (attempt()) return sent()
        return whenRoom(attempt, (): Effect.Effect<void, Errors.ChannelFull | Errors.ConnectionClosed> => {
          if (!wiring.reachable()) return Effect.fail(unreachable())
          warnings.report(backPressureKind, channel)
          Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
          return Effect.fail(Errors.channelFull(channel))
        })
      })

    const groupSend: ChannelLayer.ChannelLayerService["groupSend"] = (group, message) =>
      Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupSendError> => {
        if (isClosed()) return Effect.fail(new Errors.LayerClosed())
        const problem = ChannelName.groupNameProblem(group)
        if (problem !== undefined) return Effect.fail(problem)
        const copied = CoreMessage.copy(message)
        if (Either.isLeft(copied)) return Effect.fail(copied.left)
        const expiresAt = queues.now() + expiry
        if (!wiring.groupLeaves(Topics.groupSubscription(group))) {
          const large = tooLarge(copied.right, { group, expiresAt })
          if (large !== undefined) return Effect.fail(large)
          queues.unsafeDeliverGroup(group, copied.right, expiresAt)
          return sent()
        }
        const body = encode(copied.right, { group, expiresAt })
        if (Either.isLeft(body)) return Effect.fail(body.left)
        queues.unsafeDeliverGroup(group, copied.right, expiresAt)
        const frames = [topics.groupTopic(group), body.right]
        const attempt = () => wiring.group(frames)
        if (attempt()) return sent()
        return whenRoom(attempt, (): Effect.Effect<void, Errors.ConnectionClosed> => {
          if (!wiring.reachable()) return Effect.fail(unreachable())
          warnings.report(groupDroppedKind, group)
          ZeroMQMetrics.groupMessagesDropped.unsafeUpdate(1, labels)
          return sent()
        })
      })

    /** Validates a group and one of this layer's channels. */
    const membership = (group: string, channel: string, what: string) => {
      const groupProblem = ChannelName.groupNameProblem(group)
      if (groupProblem !== undefined) return groupProblem
      const channelProblem = ChannelName.channelNameProblem(channel)
      if (channelProblem !== undefined) return channelProblem
      if (Topics.clientIdOf(channel) !== clientId) return what === "" ? undefined : notOwn(channel, what)
      return undefined
    }

    const service: ChannelLayer.ChannelLayerService = {
      extensions: new Set(["groups"]),
      newChannel: (prefix = "specific") =>
        Effect.suspend(
          (): Effect.Effect<string, Errors.InvalidChannelName | Errors.ConnectionClosed | Errors.LayerClosed> => {
            if (isClosed()) return Effect.fail(new Errors.LayerClosed())
            if (typeof prefix !== "string" || !prefixPattern.test(prefix)) {
              return Effect.fail(
                new Errors.InvalidChannelName({
                  channel: prefix,
                  reason: "a channel prefix may contain only ASCII letters, digits, '-', '_' and '.'"
                })
              )
            }
            const name = `${prefix}.${clientId}!${ChannelName.randomLetters(12)}`
            const problem = ChannelName.channelNameProblem(name)
            if (problem !== undefined) return Effect.fail(problem)
            return Effect.as(confirmations.confirm(own), name)
          }
        ),
      send,
      receive: (channel) =>
        Effect.suspend((): Effect.Effect<CoreMessage.Message, Errors.InvalidChannelName | Errors.LayerClosed> => {
          const problem = ChannelName.channelNameProblem(channel)
          if (problem !== undefined) return Effect.fail(problem)
          if (isClosed()) return Effect.fail(new Errors.LayerClosed())
          if (Topics.clientIdOf(channel) === undefined) return Effect.fail(normalChannel(channel))
          if (Topics.clientIdOf(channel) !== clientId) return Effect.fail(notOwn(channel, "this layer receives"))
          wiring.onReceive(channel)
          return queues.receive(channel)
        }),
      groupAdd: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupMembershipError> => {
          if (isClosed()) return Effect.fail(new Errors.LayerClosed())
          const problem = membership(group, channel, "groups take members")
          if (problem !== undefined) return Effect.fail(problem)
          const subscription = Topics.groupSubscription(group)
          if (queues.unsafeGroupAdd(group, channel)) confirmations.subscribe(subscription)
          return confirmations.confirm(subscription)
        }),
      groupDiscard: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupMembershipError> => {
          if (isClosed()) return Effect.fail(new Errors.LayerClosed())
          // A channel of another process is never a member here: discarding it is a no-op.
          const problem = membership(group, channel, "")
          if (problem !== undefined) return Effect.fail(problem)
          if (queues.unsafeGroupDiscard(group, channel)) {
            confirmations.unsubscribe(Topics.groupSubscription(group))
          }
          return Effect.void
        }),
      groupSend,
      flush: Effect.dieMessage("the ZeroMQ layers do not support flush (it is not in their extensions)")
    }
    return ChannelLayer.instrument("zeromq", service, { countsSent: true })
  })
