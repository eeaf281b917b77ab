/**
 * The RabbitMQ channel layer service on top of the connection manager and core's LocalQueues.
 */
import { ChannelLayer, ChannelName, Codec, Errors, LocalQueues, Message, Metrics } from "@channel-layer/core"
import type { ConsumeMessage } from "amqplib"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Either, Exit, FiberId } from "effect"
import type { RabbitMQOptions } from "../RabbitMQ.js"
import type { RabbitMQConnectionService } from "../RabbitMQConnection.js"
import * as RabbitMQMetrics from "../RabbitMQMetrics.js"
import type { Acker } from "./acker.js"
import { hex, toBuffer } from "./bytes.js"
import * as Connection from "./connection.js"
import { Debounced } from "./debounced.js"
import * as Options from "./options.js"
import { Redeliveries } from "./redeliveries.js"

/** Both services of one layer instance. */
export interface Services {
  readonly channelLayer: ChannelLayer.ChannelLayerService
  readonly connection: RabbitMQConnectionService
}

const labels = Metrics.transportLabel("rabbitmq")

const NORMAL_CHANNELS =
  "the RabbitMQ layer only handles process-local channels (\"<queue>!<suffix>\" from newChannel), " +
  "as Python's channels_rabbitmq does; for a shared work queue, declare your own queue on the layer's " +
  "connection (RabbitMQConnection)"

const prefixPattern = /^[\w\-.]*$/

/** The body of a membership marker (see `markers`). */
const MARKER: Message.Message = { type: "channel_layer.membership" }

/** The channel of a marker of `queue`'s instance (see `markers`). */
const markerChannel = (queue: string) => `${queue}!membership.${ChannelName.randomLetters(12)}`
const isMarkerOf = (queue: string, channel: string) =>
  channel.length === queue.length + 24 && channel.startsWith(`${queue}!membership.`)

/**
 * Makes one layer instance in the current scope. `hooks` are test seams (see
 * `Connection.Hooks`).
 */
export const make = (
  options: RabbitMQOptions,
  hooks: Connection.Hooks = {}
): Effect.Effect<Services, Errors.InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* Options.resolve(options)
    const { groupsExchange, localExpiry, maxMessageSize, remoteCapacity } = resolved
    const queues = yield* LocalQueues.make({ transport: "rabbitmq", localCapacity: resolved.localCapacity })
    const runtime = yield* Effect.runtime<never>()
    const scope = yield* Effect.scope
    const skippedLog = new Debounced<{ readonly queue: string; readonly reason: string; readonly body: Uint8Array }>(
      1000,
      queues.now,
      runtime,
      scope,
      (count, { body, queue, reason }) =>
        Effect.logWarning(
          `skipped ${count} message(s) in queue ${queue} that this layer cannot deliver; ` +
            `latest: ${reason} (body ${hex(body)})`
        ).pipe(Effect.annotateLogs("transport", "rabbitmq"))
    )
    const nackLog = new Debounced<string>(1000, queues.now, runtime, scope, (count, group) =>
      Effect.logWarning(
        `group send to ${group} was refused by a full member queue (its remoteCapacity is reached): ` +
          "the members on that instance missed it" +
          (count > 1 ? ` (${count} refused group sends since the last warning, this one the latest)` : "")
      ).pipe(Effect.annotateLogs({ transport: "rabbitmq", group })))

    // Every send goes out `mandatory`. A direct send the broker returns found no queue with the
    // channel's name: the instance that owned it is gone (the queue outlives reconnects, not the
    // process), and the send fails with ChannelNotFound. A returned group send found no queue
    // bound for the group: no member anywhere, which is normal, but counted and logged (debug).
    const returnedLog = new Debounced<string>(1000, queues.now, runtime, scope, (count, channel) =>
      Effect.logWarning(
        `direct send to ${channel} returned by the broker: no queue ${channel.split("!")[0]} ` +
          "(the layer instance that owned the channel is gone); the send failed with ChannelNotFound" +
          (count > 1 ? ` (${count} such sends since the last warning, this one the latest)` : "")
      ).pipe(Effect.annotateLogs({ transport: "rabbitmq", channel })))
    const groupReturnedLog = new Debounced<string>(1000, queues.now, runtime, scope, (count, group) =>
      Effect.logDebug(
        `group send to ${group} reached no queue: the group has no member on any instance` +
          (count > 1 ? ` (${count} such group sends since the last note, this one the latest)` : "")
      ).pipe(Effect.annotateLogs({ transport: "rabbitmq", group })))
    const onReturned = (message: ConsumeMessage) => {
      const { exchange, routingKey } = message.fields
      if (exchange !== "") {
        RabbitMQMetrics.groupSendsUnroutable.unsafeUpdate(1, labels)
        groupReturnedLog.hit(routingKey)
        return
      }
      Metrics.messagesUnroutable.unsafeUpdate(1, labels)
      const decoded = Codec.decode(message.content)
      returnedLog.hit(Either.isRight(decoded) ? decoded.right.channel ?? routingKey : routingKey)
    }

    /**
     * Group membership as the application sees it: updated at once by groupAdd/groupDiscard, it
     * decides binds (first member) and unbinds (last member) and what a new connection binds.
     */
    const members = new Map<string, Set<string>>()

    /**
     * Markers: a membership change is published to this instance's own queue as a marker message
     * and applied to the local fan-out (LocalQueues) when the marker comes back, in queue order.
     * So a group message queued before a groupAdd never reaches the new member and one queued
     * before a groupDiscard still reaches the old one, however far behind the consumer is. Keyed
     * by the marker's channel, in publication order.
     */
    const markers = new Map<string, () => void>()
    const applyMarker = (channel: string): boolean => {
      const apply = markers.get(channel)
      if (apply === undefined) return false
      markers.delete(channel)
      apply()
      return true
    }
    const skip = (queue: string, reason: string, body: Uint8Array) => {
      RabbitMQMetrics.skippedMessages.unsafeUpdate(1, labels)
      // The body is copied (a Buffer's slice would share memory): amqplib may reuse the buffer.
      skippedLog.hit({ queue, reason, body: new Uint8Array(body.subarray(0, 32)) })
    }

    /** What lost connections left unsettled, to recognise the redeliveries of what is here. */
    const redeliveries = new Redeliveries(resolved.expiry)

    const onDelivery = (acker: Acker, delivery: ConsumeMessage, queue: string): void => {
      const tag = delivery.fields.deliveryTag
      // The Buffer itself: the decoder reads strings straight from it and copies bin values into
      // plain Uint8Arrays of their own.
      const bytes = delivery.content
      acker.delivered(tag, bytes)
      const ack = () => acker.ack(tag)
      if (delivery.fields.redelivered) {
        if (redeliveries.alreadyHave(bytes, queues.now())) {
          RabbitMQMetrics.redeliveriesDropped.unsafeUpdate(1, labels)
          return ack()
        }
      } else if (redeliveries.expecting) {
        redeliveries.clear()
      }
      try {
        const decoded = Codec.decode(bytes)
        if (Either.isLeft(decoded)) {
          skip(queue, decoded.left.reason, bytes)
          return ack()
        }
        const { channel, group, message } = decoded.right
        const expiresAt = queues.now() + localExpiry
        if (channel === undefined) {
          queues.unsafeDeliverGroup(group, message, expiresAt, ack)
          return
        }
        if (message.type === MARKER.type && isMarkerOf(queue, channel)) {
          // Ours; one whose change was already applied (its connection was lost meanwhile) is dropped.
          if (markers.size !== 0) applyMarker(channel)
          return ack()
        }
        if (channel.length <= queue.length || channel.charCodeAt(queue.length) !== 33 || !channel.startsWith(queue)) {
          skip(queue, `channel ${JSON.stringify(channel)} is not a channel of this queue`, bytes)
          return ack()
        }
        queues.unsafeDeliverDirect(channel, message, expiresAt, "drop", ack)
      } catch (error) {
        skip(queue, `delivery failed: ${String(error)}`, bytes)
        ack()
      }
    }

    const onLost = (unsettled: ReadonlyArray<Uint8Array>) => {
      redeliveries.add(unsettled, queues.now())
      // Markers are applied now rather than wait for them to come back: the queue may be gone
      // with its node, or the marker's publish with the connection. A group message queued before
      // a membership change may then reach the member set as it is after it.
      const pending = [...markers.values()]
      markers.clear()
      for (const apply of pending) apply()
    }

    const groups = () => [...members.keys()]

    const manager = yield* Connection.make(resolved, { groups, onDelivery, onLost, onReturned }, hooks)

    const closedError = () => new Errors.LayerClosed()
    const lostConfirm = (error: unknown) =>
      manager.isClosed()
        ? closedError()
        : new Errors.ConnectionClosed({
          reason:
            "the connection closed before the broker confirmed the message; it may or may not have been delivered",
          cause: error
        })
    const notSent = (error: unknown) =>
      manager.isClosed() ? closedError() : new Errors.ConnectionClosed({
        reason: "the connection closed again before the message could be published",
        cause: error
      })

    const mandatory = { mandatory: true }

    /** What a publish does on a refusal: a nack (the queue is full), a return (no queue took it). */
    interface Refusals<E> {
      readonly nacked: () => Effect.Effect<void, E>
      /** Direct sends only: a group send that reaches no queue still succeeds. */
      readonly returned?: () => Effect.Effect<void, E>
    }

    /**
     * Publishes (`mandatory`, see `onReturned`) and waits for the broker's confirm. A publish that
     * throws (its channel is already closed, so nothing was sent) waits for the next connection
     * and tries once more.
     */
    const publish = <E>(
      live: Connection.Live,
      exchange: string,
      routingKey: string,
      body: Buffer,
      refusals: Refusals<E>,
      retry = true
    ): Effect.Effect<void, E | Errors.ConnectionClosed | Errors.LayerClosed> =>
      Effect.async((resume) => {
        // Direct publishes are tracked, to tell which send a returned message belongs to.
        const tracked = refusals.returned === undefined ? undefined : live.unconfirmed.add(routingKey, body)
        try {
          live.publisher.publish(exchange, routingKey, body, mandatory, (error: Error | null) => {
            if (tracked !== undefined) live.unconfirmed.settle(tracked)
            if (error === null) {
              if (tracked?.returned === true) return resume(refusals.returned!())
              // Counted here, where it succeeded (see `instrument`'s `countsSent`).
              Metrics.messagesSent.unsafeUpdate(1, labels)
              resume(Effect.void)
            } else if (error.message === "message nacked") resume(refusals.nacked())
            else resume(Effect.fail(lostConfirm(error)))
          })
        } catch (error) {
          if (tracked !== undefined) live.unconfirmed.settle(tracked)
          if (!retry) return resume(Effect.fail(notSent(error)))
          manager.broken(live, `publish failed: ${String(error)}`)
          resume(
            Effect.flatMap(manager.awaitLive, (next) => publish(next, exchange, routingKey, body, refusals, false))
          )
        }
      })

    /** Runs `f` on the live connection, waiting for one if there is none. */
    const withLive = <A, E>(f: (live: Connection.Live) => Effect.Effect<A, E>) => {
      const live = manager.current()
      return live !== undefined ? f(live) : Effect.flatMap(manager.awaitLive, f)
    }

    /** `confirmTimeout`, when set, bounds the wait for a publish's confirm. */
    const { confirmTimeout } = resolved
    const boundConfirm: <E>(
      effect: Effect.Effect<void, E>
    ) => Effect.Effect<void, E | Errors.ConnectionClosed> = confirmTimeout === undefined
      ? (effect) => effect
      : Effect.timeoutFail({
        duration: Duration.millis(confirmTimeout),
        onTimeout: () =>
          new Errors.ConnectionClosed({
            reason: `no confirm from the broker within confirmTimeout (${confirmTimeout} ms); ` +
              "the message may or may not be delivered"
          })
      })

    /** The queue that owns a channel, or why the channel cannot be used here. */
    const ownQueueOf = (channel: unknown, action: string): Errors.InvalidChannelName | undefined => {
      const problem = ChannelName.channelNameProblem(channel)
      if (problem !== undefined) return problem
      const name = channel as string
      const bang = name.indexOf("!")
      if (bang === -1) return new Errors.InvalidChannelName({ channel, reason: `cannot ${action}: ${NORMAL_CHANNELS}` })
      const queue = manager.queueName()
      if (bang !== queue.length || !name.startsWith(queue)) {
        return new Errors.InvalidChannelName({
          channel,
          reason: `cannot ${action}: the channel belongs to queue ${name.slice(0, bang)}, another layer instance; ` +
            `this instance (queue ${queue}) can only ${action} its own channels, from its newChannel`
        })
      }
      return undefined
    }

    const groupRefusals = (group: string): Refusals<never> => ({
      nacked: () =>
        Effect.sync(() => {
          Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
          nackLog.hit(group)
        })
    })

    /**
     * Publishes a marker that applies `apply` to the local fan-out when it comes back (see
     * `markers`); succeeds once the broker confirmed it, so anything sent after that is queued
     * behind it. A marker the broker refuses (the queue is full) or loses applies at once.
     */
    const marker = (live: Connection.Live, apply: () => void): Effect.Effect<void> => {
      // Published now, not when the returned effect runs: markers keep the order of the calls.
      const confirmed = Deferred.unsafeMake<void>(FiberId.none)
      const channel = markerChannel(live.queue)
      markers.set(channel, apply)
      try {
        const body = toBuffer(Codec.encode(MARKER, { channel }))
        live.publisher.publish("", live.queue, body, undefined, (error: Error | null) => {
          if (error !== null) applyMarker(channel)
          Deferred.unsafeDone(confirmed, Exit.void)
        })
      } catch {
        applyMarker(channel)
        return Effect.void
      }
      return Deferred.await(confirmed)
    }

    /** In-flight binds, so that a second member joining waits for the first one's bind. */
    const binding = new Map<string, Promise<unknown>>()

    const bind = (group: string): Promise<unknown> | undefined => {
      const control = manager.control()
      if (control === undefined) return undefined
      let promise: Promise<unknown>
      try {
        promise = control.bindQueue(manager.queueName(), groupsExchange, group)
      } catch {
        return undefined
      }
      const settled = promise.then(() => undefined, () => undefined)
      binding.set(group, settled)
      settled.then(() => {
        if (binding.get(group) === settled) binding.delete(group)
      })
      return settled
    }

    const service: ChannelLayer.ChannelLayerService = {
      extensions: new Set(["groups"]),

      newChannel: (prefix) =>
        Effect.suspend(
          (): Effect.Effect<string, Errors.InvalidChannelName | Errors.ConnectionClosed | Errors.LayerClosed> => {
            if (manager.isClosed()) return Effect.fail(closedError())
            if (prefix !== undefined && (typeof prefix !== "string" || !prefixPattern.test(prefix))) {
              return Effect.fail(
                new Errors.InvalidChannelName({
                  channel: prefix,
                  reason: "a newChannel prefix goes after the queue name and '!', so it may contain only ASCII " +
                    "letters, digits, '-', '_' and '.'"
                })
              )
            }
            return Effect.flatMap(
              withLive((live) => Effect.succeed(`${live.queue}!${prefix ?? ""}${ChannelName.randomLetters(12)}`)),
              ChannelName.validateChannel
            )
          }
        ),

      send: (channel, message) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.SendError> => {
          if (manager.isClosed()) return Effect.fail(closedError())
          const problem = ChannelName.channelNameProblem(channel)
          if (problem !== undefined) return Effect.fail(problem)
          const bang = channel.indexOf("!")
          if (bang === -1) {
            return Effect.fail(new Errors.InvalidChannelName({ channel, reason: `cannot send: ${NORMAL_CHANNELS}` }))
          }
          const copied = Message.copy(message)
          if (Either.isLeft(copied)) return Effect.fail(copied.left)
          const queue = channel.slice(0, bang)
          // One unread channel of this instance must not fill the queue all its channels share.
          if (queue === manager.queueName() && queues.size(channel) >= remoteCapacity) {
            Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
            return Effect.fail(new Errors.ChannelFull({ channel, capacity: remoteCapacity }))
          }
          const bytes = Codec.encode(copied.right, { channel })
          if (bytes.byteLength > maxMessageSize) {
            return Effect.fail(new Errors.MessageTooLarge({ size: bytes.byteLength, maxSize: maxMessageSize }))
          }
          const body = toBuffer(bytes)
          const refusals: Refusals<Errors.ChannelFull | Errors.ChannelNotFound> = {
            nacked: () => {
              Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
              return Effect.fail(new Errors.ChannelFull({ channel }))
            },
            returned: () =>
              Effect.fail(
                new Errors.ChannelNotFound({
                  channel,
                  reason: `the broker has no queue ${queue}: the layer instance that owned the channel is gone`
                })
              )
          }
          return boundConfirm(withLive((live) => publish(live, "", queue, body, refusals)))
        }),

      receive: (channel) =>
        Effect.suspend((): Effect.Effect<Message.Message, Errors.InvalidChannelName | Errors.LayerClosed> => {
          const problem = ownQueueOf(channel, "receive on")
          if (problem !== undefined) return Effect.fail(problem)
          manager.demand()
          return queues.receive(channel)
        }),

      groupAdd: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupMembershipError> => {
          if (manager.isClosed()) return Effect.fail(closedError())
          const groupProblem = ChannelName.groupNameProblem(group)
          if (groupProblem !== undefined) return Effect.fail(groupProblem)
          const problem = ownQueueOf(channel, "add to a group")
          if (problem !== undefined) return Effect.fail(problem)
          const connected = Effect.asVoid(manager.awaitLive)
          let set = members.get(group)
          if (set?.has(channel)) return connected
          // The membership holds from here on, whatever happens to the connection: every new
          // connection binds the groups that have members.
          if (set === undefined) members.set(group, set = new Set())
          set.add(channel)
          // Bound on the first member; the others wait for that bind.
          const pending = set.size === 1 ? bind(group) : binding.get(group)
          const live = manager.current()
          // Without a live connection nothing is queued before this change: apply it at once.
          let added: Effect.Effect<void> = Effect.void
          if (live === undefined) queues.unsafeGroupAdd(group, channel)
          else added = marker(live, () => queues.unsafeGroupAdd(group, channel))
          const bound = pending === undefined ? added : Effect.zipRight(added, Effect.promise(() => pending))
          return Effect.zipRight(bound, connected)
        }),

      groupDiscard: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupMembershipError> => {
          if (manager.isClosed()) return Effect.fail(closedError())
          const groupProblem = ChannelName.groupNameProblem(group)
          if (groupProblem !== undefined) return Effect.fail(groupProblem)
          const problem = ChannelName.channelNameProblem(channel)
          if (problem !== undefined) return Effect.fail(problem)
          const set = members.get(group)
          if (set === undefined || !set.delete(channel)) return Effect.void
          const last = set.size === 0
          if (last) members.delete(group)
          const discard = () => queues.unsafeGroupDiscard(group, channel)
          const live = manager.current()
          // Without a live connection nothing is queued before this change: apply it at once.
          let discarded: Effect.Effect<void> = Effect.void
          if (live === undefined) discard()
          else discarded = marker(live, discard)
          // Without a control channel there is nothing to unbind: the next connection binds only
          // groups that have members.
          const control = manager.control()
          if (!last || control === undefined) return discarded
          let promise: Promise<unknown>
          try {
            promise = control.unbindQueue(manager.queueName(), groupsExchange, group)
          } catch {
            return discarded
          }
          return Effect.zipRight(discarded, Effect.promise(() => promise.then(() => undefined, () => undefined)))
        }),

      groupSend: (group, message) =>
        Effect.suspend((): Effect.Effect<void, ChannelLayer.GroupSendError> => {
          if (manager.isClosed()) return Effect.fail(closedError())
          const problem = ChannelName.groupNameProblem(group)
          if (problem !== undefined) return Effect.fail(problem)
          const copied = Message.copy(message)
          if (Either.isLeft(copied)) return Effect.fail(copied.left)
          const bytes = Codec.encode(copied.right, { group })
          if (bytes.byteLength > maxMessageSize) {
            return Effect.fail(new Errors.MessageTooLarge({ size: bytes.byteLength, maxSize: maxMessageSize }))
          }
          const body = toBuffer(bytes)
          return boundConfirm(withLive((live) => publish(live, groupsExchange, group, body, groupRefusals(group))))
        }),

      flush: Effect.dieMessage(
        "the RabbitMQ layer has no flush (its extensions do not list \"flush\"): each instance's queue " +
          "goes away when it closes, and expiry and localExpiry drop what nobody receives"
      )
    }

    const connection: RabbitMQConnectionService = {
      connection: Effect.map(manager.awaitLive, (live) => live.model),
      confirmChannel: Effect.acquireRelease(
        Effect.flatMap(manager.awaitLive, (live) =>
          Effect.tryPromise({
            try: async () => {
              const channel = await live.model.createConfirmChannel()
              channel.on("error", () => undefined)
              return channel
            },
            catch: (cause) => new Errors.ConnectionClosed({ reason: "cannot open a channel", cause })
          })),
        (channel) => Effect.promise(() => channel.close().catch(() => undefined))
      ),
      queue: Effect.map(manager.awaitLive, (live) => live.queue),
      connections: manager.connections
    }

    return { channelLayer: ChannelLayer.instrument("rabbitmq", service, { countsSent: true }), connection }
  })
