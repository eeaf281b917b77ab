/**
 * The RabbitMQ backend of `ChannelLayer.make`: channels are `<queue>!<suffix>` of the instance's
 * queue; a direct send is a publish to that queue on the default exchange, a group send one
 * publish to the groups exchange; group members here get group messages through the queue, like
 * everyone else's (see `Markers` for the order of membership changes).
 */
import { type Backend, ChannelName, Errors, Metrics } from "@channel-layer/core"
import type { Scope } from "effect"
import { Effect } from "effect"
import { Binds } from "./binds.js"
import { toBuffer } from "./bytes.js"
import * as Connection from "./connection.js"
import * as Deliveries from "./deliveries.js"
import { Markers } from "./markers.js"
import type { Resolved } from "./options.js"
import { Publisher, type Refusals } from "./publisher.js"

const NORMAL_CHANNELS = "the RabbitMQ layer only handles process-local channels (\"<queue>!<suffix>\" from " +
  "newChannel), as Python's channels_rabbitmq does; for a shared work queue, declare your own queue on the layer's " +
  "connection (RabbitMQConnection)"

const groupNacked = {
  key: "group-nacked",
  render: (total: number, top: string) =>
    `${total} group send(s) refused by a full member queue (its remoteCapacity is reached): the members on that ` +
    `instance missed them: ${top}`
}

/** The queue a channel of this layer routes to: the part of `<queue>!<suffix>` before the `!`. */
const queueOf = (channel: string): string => channel.slice(0, channel.indexOf("!"))

/** The backend, and the connection manager the `RabbitMQConnection` service reads. */
export interface RabbitMQBackend extends Backend.Backend {
  readonly manager: Connection.Manager
}

/**
 * Makes the backend in the layer's scope: the `Backend` object, each of its members a few lines
 * over the connection manager, the publisher, the binds and the markers made here.
 */
export const make = (
  options: Resolved,
  context: Backend.Context,
  hooks: Connection.Hooks = {}
): Effect.Effect<RabbitMQBackend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { labels, queues, warnings } = context
    const { groupsExchange, remoteCapacity } = options
    const markers = new Markers()
    const manager = yield* Connection.make(
      options,
      Deliveries.handlers(context, { expiry: options.expiry, localExpiry: options.localExpiry, markers }),
      hooks
    )
    const publisher = new Publisher(manager, options)
    const binds = new Binds(manager, groupsExchange)

    /**
     * A membership change: applied to the local fan-out once the marker published behind
     * everything queued before it comes back, or at once without a connection (nothing is queued
     * before it then: the queue is consumed again from scratch).
     */
    const change = (apply: () => void): Effect.Effect<void> => {
      const live = manager.current()
      if (live !== undefined) return markers.publish(live, apply)
      apply()
      return Effect.void
    }

    const groupRefusals: Refusals<never> = {
      nacked: (group) =>
        Effect.sync(() => {
          Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
          warnings.report(groupNacked, group)
        })
    }

    const directRefusals: Refusals<Errors.ChannelFull | Errors.ChannelNotFound> = {
      nacked: (channel) => {
        Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
        return Effect.fail(new Errors.ChannelFull({ channel }))
      },
      returned: (channel) =>
        Effect.fail(
          new Errors.ChannelNotFound({
            channel,
            reason: `the broker has no queue ${queueOf(channel)}: the layer instance that owned the channel is gone`
          })
        )
    }

    const connected = Effect.asVoid(manager.awaitLive)

    return {
      manager,
      newChannel: (prefix) =>
        Effect.map(manager.awaitLive, (live) => `${live.queue}!${prefix ?? ""}${ChannelName.randomLetters(12)}`),
      route: (channel) => channel.includes("!") ? "remote" : { refused: NORMAL_CHANNELS },
      refuses: (channel, action) => {
        const bang = channel.indexOf("!")
        if (bang === -1) return NORMAL_CHANNELS
        const queue = manager.queueName()
        return bang === queue.length && channel.startsWith(queue)
          ? undefined
          : `the channel belongs to queue ${channel.slice(0, bang)}, another layer instance; this instance ` +
            `(queue ${queue}) can only ${action} its own channels, from its newChannel`
      },
      publish: (channel, body) => {
        const queue = queueOf(channel)
        // One unread channel of this instance must not fill the queue all its channels share.
        if (queue === manager.queueName() && queues.size(channel) >= remoteCapacity) {
          Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
          return Effect.fail(new Errors.ChannelFull({ channel, capacity: remoteCapacity }))
        }
        return publisher.publish("", queue, toBuffer(body), directRefusals, channel)
      },
      groups: {
        fanOutLocally: false,
        leaves: () => true,
        publish: (group, body) => publisher.publish(groupsExchange, group, toBuffer(body), groupRefusals, group),
        // Bound on the first member; the others wait for that bind. The membership holds whatever
        // happens to the connection: every new connection binds the groups that have members.
        join: (group, _channel, first, apply) => {
          const bound = first ? binds.bind(group) : binds.settled(group)
          return Effect.zipRight(Effect.zipRight(change(apply), bound), connected)
        },
        rejoin: () => connected,
        leave: (group, _channel, last, apply) => {
          const changed = change(apply)
          return last ? Effect.zipRight(changed, binds.unbind(group)) : changed
        }
      },
      onReceive: manager.demand
    }
  })
