/**
 * The one implementation of the `ChannelLayer` service, on top of a transport's backend (see
 * `Backend.ts`). Every operation checks, in this order: the closed state, the names (group, then
 * channel), whether the transport can use the channel that way, then the message (valid, then not
 * too large). The hot paths (`send`, `groupSend`, `receive`) are plain checks in one
 * `Effect.suspend`, with no generator.
 */
import type { Scope, Tracer } from "effect"
import { Effect, Either } from "effect"
import type * as Backend from "../Backend.js"
import type {
  ChannelLayerService,
  GroupMembershipError,
  GroupSendError,
  Made,
  MakeOptions,
  SendError
} from "../ChannelLayer.js"
import { channelNameProblem, groupNameProblem } from "../ChannelName.js"
import * as Codec from "../Codec.js"
import { InvalidChannelName, LayerClosed, MessageTooLarge } from "../Errors.js"
import * as LocalQueues from "../LocalQueues.js"
import * as Message from "../Message.js"
import * as Metrics from "../Metrics.js"
import * as Warnings from "../Warnings.js"
import { channelFull, defaultTracer } from "./hotPath.js"

const prefixPattern = /^[a-zA-Z\d\-_.]*$/

const badPrefix = (prefix: unknown) =>
  new InvalidChannelName({
    channel: prefix,
    reason: "a newChannel prefix must be a string of ASCII letters, digits, '-', '_' and '.' (it may be empty), " +
      `got ${typeof prefix === "string" ? JSON.stringify(prefix) : prefix === null ? "null" : typeof prefix}`
  })

/**
 * Group membership as the application asked for it: the members of each group here and when each
 * last joined (for `groupExpiry`). A group without members is forgotten.
 */
const none: ReadonlyArray<string> = []

class Membership {
  private readonly byGroup = new Map<string, Map<string, number>>()

  has(group: string, channel: string): boolean {
    return this.byGroup.get(group)?.has(channel) === true
  }

  /** Records a join at `now`; `true` when the channel is the group's first member. */
  add(group: string, channel: string, now: number): boolean {
    let members = this.byGroup.get(group)
    const first = members === undefined
    if (members === undefined) this.byGroup.set(group, members = new Map())
    members.set(channel, now)
    return first
  }

  /** Removes a member: `undefined` when it was none, else whether it was the last. */
  remove(group: string, channel: string): boolean | undefined {
    const members = this.byGroup.get(group)
    if (members === undefined || !members.delete(channel)) return undefined
    if (members.size > 0) return false
    this.byGroup.delete(group)
    return true
  }

  /** Members of `group` that last joined at or before `before` (no allocation when there are none). */
  joinedBefore(group: string, before: number): ReadonlyArray<string> {
    let out: Array<string> | undefined
    const members = this.byGroup.get(group)
    if (members !== undefined) { for (const [channel, at] of members) if (at <= before) (out ??= []).push(channel) }
    return out ?? none
  }

  groups(): ReadonlyArray<string> {
    return [...this.byGroup.keys()]
  }

  clear(): void {
    this.byGroup.clear()
  }
}

/**
 * Runs `body` when the effect runs, and wraps what it returns in a span only when a real tracer is
 * installed: spans made by Effect's default tracer go nowhere, and making one costs several times
 * what an in-memory send does. One primitive and one closure per call, on purpose: `send`,
 * `groupSend` and `receive` are the hot path, and a fan-out to 100 members runs 100 receives per
 * group send (a `suspend` inside a tracer check, two primitives, made it 2-4 times slower through
 * the garbage of the extra closures). The tracer is read from the running fiber, which keeps it at
 * hand (`Effect.tracerWith` looks it up in the fiber's services on every call).
 */
const traced = <A, E>(
  name: string,
  kind: Tracer.SpanKind,
  transport: string,
  key: "channel" | "group",
  value: string,
  body: () => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.withFiberRuntime((fiber) =>
    fiber.currentTracer === defaultTracer
      ? body()
      : Effect.withSpan(Effect.suspend(body), name, {
        attributes: { transport, [key]: value },
        kind,
        captureStackTrace: false
      })
  )

/**
 * Builds the service on the backend `options.backend` makes. One closure on purpose: the layer's
 * state (closed, local queues, membership, backend) is shared by the operations below, each a
 * short function.
 */
export const make = <B extends Backend.Backend, E, R>(
  options: MakeOptions<B, E, R>
): Effect.Effect<Made<B>, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const { expiry, maxMessageSize, transport } = options
    const labels = Metrics.transportLabel(transport)
    const capacityOf = options.capacityOf ?? (() => Number.POSITIVE_INFINITY)
    const warnings = yield* Warnings.make({})
    const queues = yield* LocalQueues.make({
      transport,
      warnings,
      ...(options.capacityOf !== undefined ? { channelCapacity: options.capacityOf } : {}),
      ...(options.localCapacity !== undefined ? { localCapacity: options.localCapacity } : {})
    })
    const membership = new Membership()
    const backend = yield* options.backend({ queues, groups: () => membership.groups(), warnings, labels })
    const { groups } = backend

    // Registered after the backend's resources, so it runs first when the scope closes: from then
    // on every call fails with LayerClosed while the backend shuts down.
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )
    const isClosed = () => closed || queues.isClosed()

    const sent = (): void => {
      Metrics.messagesSent.unsafeUpdate(1, labels)
    }

    /** The encoded message, or `MessageTooLarge` (not wrapped in an Either: one object less per send). */
    const encode = (message: Message.Message, envelope: Codec.Envelope): Uint8Array | MessageTooLarge => {
      const body = Codec.encode(message, envelope)
      return maxMessageSize !== undefined && body.byteLength > maxMessageSize
        ? new MessageTooLarge({ size: body.byteLength, maxSize: maxMessageSize })
        : body
    }

    /** `MessageTooLarge` for a message delivered without encoding that would be too large encoded. */
    const tooLarge = (message: Message.Message, envelope: Codec.Envelope): MessageTooLarge | undefined => {
      if (maxMessageSize === undefined) return undefined
      const size = Codec.encodedSizeOver(message, envelope, maxMessageSize)
      return size === undefined ? undefined : new MessageTooLarge({ size, maxSize: maxMessageSize })
    }

    const envelopeOf = (key: "channel" | "group", name: string, expiresAt: number): Codec.Envelope =>
      options.deadlineInEnvelope === true
        ? (key === "channel" ? { channel: name, expiresAt } : { group: name, expiresAt })
        : (key === "channel" ? { channel: name } : { group: name })

    /** Why this instance cannot `action` `channel`, checked in the service's order. */
    const ownProblem = (channel: unknown, action: "receive on" | "add to a group") => {
      const problem = channelNameProblem(channel)
      if (problem !== undefined) return problem
      const refused = backend.refuses(channel as string, action)
      return refused === undefined
        ? undefined
        : new InvalidChannelName({ channel, reason: `cannot ${action}: ${refused}` })
    }

    /** Drops the members of `group` whose membership outlived `groupExpiry` (in-memory only). */
    const dropExpiredMembers = (group: string, groupExpiry: number) => {
      for (const channel of membership.joinedBefore(group, queues.now() - groupExpiry)) {
        membership.remove(group, channel)
        queues.unsafeGroupDiscard(group, channel)
      }
    }

    /** `send`, run when the effect runs (see {@link traced}). */
    const send = (channel: string, message: Message.Message): Effect.Effect<void, SendError> => {
      if (isClosed()) return Effect.fail(new LayerClosed())
      const problem = channelNameProblem(channel)
      if (problem !== undefined) return Effect.fail(problem)
      const route = backend.route(channel)
      if (typeof route === "object") {
        return Effect.fail(new InvalidChannelName({ channel, reason: `cannot send: ${route.refused}` }))
      }
      const copied = Message.copy(message)
      if (Either.isLeft(copied)) return Effect.fail(copied.left)
      const expiresAt = queues.now() + expiry
      if (route === "local") {
        const large = tooLarge(copied.right, envelopeOf("channel", channel, expiresAt))
        if (large !== undefined) return Effect.fail(large)
        if (!queues.unsafeDeliverDirect(channel, copied.right, expiresAt, "reject")) {
          return Effect.fail(channelFull(channel, capacityOf(channel)))
        }
        sent()
        return Effect.void
      }
      const body = encode(copied.right, envelopeOf("channel", channel, expiresAt))
      if (body instanceof MessageTooLarge) return Effect.fail(body)
      return Effect.map(backend.publish(channel, body), sent)
    }

    /** `groupSend`, run when the effect runs (see {@link traced}). */
    const groupSend = (group: string, message: Message.Message): Effect.Effect<void, GroupSendError> => {
      if (isClosed()) return Effect.fail(new LayerClosed())
      const problem = groupNameProblem(group)
      if (problem !== undefined) return Effect.fail(problem)
      const copied = Message.copy(message)
      if (Either.isLeft(copied)) return Effect.fail(copied.left)
      if (options.groupExpiry !== undefined) dropExpiredMembers(group, options.groupExpiry)
      const expiresAt = queues.now() + expiry
      const envelope = envelopeOf("group", group, expiresAt)
      if (groups.leaves(group)) {
        const body = encode(copied.right, envelope)
        if (body instanceof MessageTooLarge) return Effect.fail(body)
        if (groups.fanOutLocally) queues.unsafeDeliverGroup(group, copied.right, expiresAt)
        return Effect.map(groups.publish(group, body), sent)
      }
      const large = tooLarge(copied.right, envelope)
      if (large !== undefined) return Effect.fail(large)
      if (groups.fanOutLocally) queues.unsafeDeliverGroup(group, copied.right, expiresAt)
      sent()
      return Effect.void
    }

    /** `receive`, run when the effect runs (see {@link traced}). */
    const receive = (channel: string): Effect.Effect<Message.Message, InvalidChannelName | LayerClosed> => {
      if (isClosed()) return Effect.fail(new LayerClosed())
      const problem = ownProblem(channel, "receive on")
      if (problem !== undefined) return Effect.fail(problem)
      backend.onReceive?.(channel)
      return backend.receive?.(channel) ?? queues.unsafeReceive(channel)
    }

    const service: ChannelLayerService = {
      newChannel: (prefix) =>
        Effect.suspend(() => {
          if (isClosed()) return Effect.fail(new LayerClosed())
          if (prefix !== undefined && (typeof prefix !== "string" || !prefixPattern.test(prefix))) {
            return Effect.fail(badPrefix(prefix))
          }
          return Effect.flatMap(backend.newChannel(prefix), (name) => {
            const problem = channelNameProblem(name)
            return problem === undefined ? Effect.succeed(name) : Effect.fail(problem)
          })
        }),
      send: (channel, message) =>
        traced("ChannelLayer.send", "producer", transport, "channel", channel, () => send(channel, message)),
      groupSend: (group, message) =>
        traced("ChannelLayer.groupSend", "producer", transport, "group", group, () => groupSend(group, message)),
      receive: (channel) =>
        traced("ChannelLayer.receive", "consumer", transport, "channel", channel, () => receive(channel)),
      groupAdd: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, GroupMembershipError> => {
          if (isClosed()) return Effect.fail(new LayerClosed())
          const problem = groupNameProblem(group) ?? ownProblem(channel, "add to a group")
          if (problem !== undefined) return Effect.fail(problem)
          const now = queues.now()
          if (membership.has(group, channel)) {
            membership.add(group, channel, now)
            return groups.rejoin(group, channel)
          }
          // The membership holds from here on, whatever happens to a connection.
          const first = membership.add(group, channel, now)
          return groups.join(group, channel, first, () => queues.unsafeGroupAdd(group, channel))
        }),
      groupDiscard: (group, channel) =>
        Effect.suspend((): Effect.Effect<void, GroupMembershipError> => {
          if (isClosed()) return Effect.fail(new LayerClosed())
          const problem = groupNameProblem(group) ?? channelNameProblem(channel)
          if (problem !== undefined) return Effect.fail(problem)
          // A channel that is not a member (another instance's included) leaves nothing.
          const last = membership.remove(group, channel)
          if (last === undefined) return Effect.void
          return groups.leave(group, channel, last, () => queues.unsafeGroupDiscard(group, channel))
        })
    }

    const flush = Effect.suspend(() => {
      if (isClosed()) return Effect.fail(new LayerClosed())
      queues.unsafeFlush()
      membership.clear()
      return Effect.void
    })

    return { service, backend, flush }
  }).pipe(Effect.annotateLogs("transport", options.transport))
