/**
 * The ZeroMQ backend of `ChannelLayer.make`, for both modes, on top of what each mode wires up:
 * where direct and group messages for other processes go (the embedded PUB socket, or the PUSH
 * socket to the proxy) and the SUB socket's subscriptions.
 *
 * - Channels are process-local only (`<prefix>.<client id>!<random>`): a normal channel has no
 *   process to route to, and a PUB/SUB fan-out cannot hand one message to exactly one of several
 *   receivers. `send` and `receive` on a normal channel fail with `InvalidChannelName` saying so.
 * - A send to a channel of this process, and a group send to its local members, are delivered
 *   in-process by core; everything else is encoded once and queued for the sending socket.
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
import { type Backend, ChannelName, Errors, type LocalQueues, Metrics, type Warnings } from "@channel-layer/core"
import type { MetricLabel, Scope } from "effect"
import { Effect } from "effect"
import * as ZeroMQMetrics from "../ZeroMQMetrics.js"
import type * as Confirmations from "./Confirmations.js"
import type * as Outbox from "./Outbox.js"
import type * as Publisher from "./Publisher.js"
import type { LayerSettings } from "./Settings.js"
import * as Topics from "./Topics.js"

/**
 * What a mode provides to the backend.
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

const NORMAL_CHANNELS = "the ZeroMQ layer carries only process-local channels (name!suffix, made by newChannel): " +
  "a normal channel has no process to route to"

const NOT_OWN = "only channels made by this layer's newChannel are this layer's (their client id is not)"

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
 * Makes the backend. Closing the scope fails waiting confirmations and waits (up to `linger`) for
 * queued messages to be handed to the socket. Make it after every fiber of the mode, so that this
 * runs first when the scope closes. The `Backend` object's members are each a few lines over the
 * mode's wiring.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (wiring: Wiring, role: string): Effect.Effect<Backend.Backend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { clientId, confirmations, labels, settings, warnings } = wiring
    const own = Topics.directSubscription(clientId)
    const topics = new Topics.TopicCache(clientId)
    const backPressureKind = backPressure(role)
    const groupDroppedKind = groupDropped(role)

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        confirmations.close()
        return wiring.drain(settings.linger)
      })
    )

    const unreachable = () => new Errors.ConnectionClosed({ reason: wiring.unreachable() })

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
          ok ? (wiring.queues.isClosed() ? Effect.fail(new Errors.LayerClosed()) : Effect.void) : otherwise()
      )

    return {
      newChannel: (prefix) =>
        Effect.as(confirmations.confirm(own), `${prefix ?? "specific"}.${clientId}!${ChannelName.randomLetters(12)}`),
      route: (channel) => {
        const owner = Topics.clientIdOf(channel)
        return owner === undefined ? { refused: NORMAL_CHANNELS } : owner === clientId ? "local" : "remote"
      },
      refuses: (channel) => {
        const owner = Topics.clientIdOf(channel)
        return owner === undefined ? NORMAL_CHANNELS : owner !== clientId ? NOT_OWN : undefined
      },
      publish: (channel, body) => {
        const owner = Topics.clientIdOf(channel)!
        const frames = [topics.directTopic(owner), body]
        const attempt = () => {
          const admission = wiring.direct(owner, frames)
          return admission !== "full" && admission !== "hold-full"
        }
        if (attempt()) return Effect.void
        return whenRoom(attempt, (): Effect.Effect<void, Errors.ChannelFull | Errors.ConnectionClosed> => {
          if (!wiring.reachable()) return Effect.fail(unreachable())
          warnings.report(backPressureKind, channel)
          Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
          return Effect.fail(new Errors.ChannelFull({ channel }))
        })
      },
      groups: {
        fanOutLocally: true,
        leaves: (group) => wiring.groupLeaves(Topics.groupSubscription(group)),
        publish: (group, body) => {
          const frames = [topics.groupTopic(group), body]
          const attempt = () => wiring.group(frames)
          if (attempt()) return Effect.void
          return whenRoom(attempt, (): Effect.Effect<void, Errors.ConnectionClosed> => {
            if (!wiring.reachable()) return Effect.fail(unreachable())
            warnings.report(groupDroppedKind, group)
            ZeroMQMetrics.groupMessagesDropped.unsafeUpdate(1, labels)
            return Effect.void
          })
        },
        join: (group, _channel, first, apply) => {
          apply()
          const subscription = Topics.groupSubscription(group)
          if (first) confirmations.subscribe(subscription)
          return confirmations.confirm(subscription)
        },
        rejoin: (group) => confirmations.confirm(Topics.groupSubscription(group)),
        leave: (group, _channel, last, apply) => {
          apply()
          if (last) confirmations.unsubscribe(Topics.groupSubscription(group))
          return Effect.void
        }
      },
      onReceive: wiring.onReceive
    }
  })
