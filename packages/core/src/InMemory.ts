/**
 * The single-process channel layer, like Django's `InMemoryChannelLayer`: every channel and group
 * lives in this process, so it serves tests and single-server deployments. It has `flush` and
 * `groupExpiry`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Either, Layer } from "effect"
import * as ChannelCapacity from "./ChannelCapacity.js"
import {
  ChannelLayer,
  type ChannelLayerService,
  type GroupSendError,
  instrument,
  type SendError
} from "./ChannelLayer.js"
import * as ChannelName from "./ChannelName.js"
import { channelFull, type InvalidOptions, LayerClosed } from "./Errors.js"
import * as LocalQueues from "./LocalQueues.js"
import * as Message from "./Message.js"
import * as Metrics from "./Metrics.js"
import * as Options from "./Options.js"

/**
 * Options of the in-memory layer, with Django's defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemoryOptions {
  /** Messages a channel holds before `send` fails with `ChannelFull` (default 100). */
  readonly capacity?: number
  /** Capacity overrides by channel-name pattern, first match wins. */
  readonly channelCapacity?: ChannelCapacity.Overrides
  /** How long an undelivered message is kept (default 60 seconds). */
  readonly expiry?: Duration.DurationInput
  /** How long a group membership lasts without being renewed by `groupAdd` (default 1 day). */
  readonly groupExpiry?: Duration.DurationInput
}

/**
 * Makes an in-memory channel layer that lives as long as the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: InMemoryOptions = {}) =>
  Effect.gen(function*() {
    const capacity = yield* Options.positiveInteger("capacity", options.capacity ?? 100)
    for (const [pattern, value] of ChannelCapacity.capacities(options.channelCapacity)) {
      yield* Options.positiveInteger(`channelCapacity[${pattern}]`, value)
    }
    const expiry = yield* Options.positiveDuration("expiry", options.expiry ?? Duration.seconds(60))
    const groupExpiry = yield* Options.positiveDuration("groupExpiry", options.groupExpiry ?? Duration.days(1))
    const capacityOf = ChannelCapacity.resolver(capacity, options.channelCapacity)
    const queues = yield* LocalQueues.make({ transport: "memory", channelCapacity: capacityOf })
    const labels = Metrics.transportLabel("memory")
    // When each membership was last added, for groupExpiry.
    const joinedAt = new Map<string, Map<string, number>>()

    const closed = () => queues.isClosed() ? new LayerClosed() : undefined
    const open = Effect.suspend(() => queues.isClosed() ? Effect.fail(new LayerClosed()) : Effect.void)

    const dropExpiredMembers = (group: string) => {
      const joined = joinedAt.get(group)
      if (joined === undefined) return
      const oldest = queues.now() - groupExpiry
      for (const [channel, at] of joined) {
        if (at <= oldest) {
          joined.delete(channel)
          queues.unsafeGroupDiscard(group, channel)
        }
      }
      if (joined.size === 0) joinedAt.delete(group)
    }

    const service: ChannelLayerService = {
      extensions: new Set(["groups", "flush"]),
      newChannel: (prefix = "specific") =>
        Effect.zipRight(open, ChannelName.validateChannel(ChannelName.makeProcessLocal(`${prefix}.inmemory`))),
      // send and groupSend are the hot path: plain checks in one suspend, no generator.
      send: (channel, message) =>
        Effect.suspend((): Effect.Effect<void, SendError> => {
          const problem = closed() ?? ChannelName.channelNameProblem(channel)
          if (problem !== undefined) return Effect.fail(problem)
          const copy = Message.copy(message)
          if (Either.isLeft(copy)) return Effect.fail(copy.left)
          if (!queues.unsafeDeliverDirect(channel, copy.right, queues.now() + expiry, "reject")) {
            return Effect.fail(channelFull(channel, capacityOf(channel)))
          }
          Metrics.messagesSent.unsafeUpdate(1, labels)
          return Effect.void
        }),
      receive: (channel) => {
        const problem = ChannelName.channelNameProblem(channel)
        return problem === undefined ? queues.receive(channel) : Effect.fail(problem)
      },
      groupAdd: (group, channel) =>
        Effect.gen(function*() {
          yield* open
          yield* ChannelName.validateGroup(group)
          yield* ChannelName.validateChannel(channel)
          let joined = joinedAt.get(group)
          if (joined === undefined) joinedAt.set(group, joined = new Map())
          joined.set(channel, queues.now())
          queues.unsafeGroupAdd(group, channel)
        }),
      groupDiscard: (group, channel) =>
        Effect.gen(function*() {
          yield* open
          yield* ChannelName.validateGroup(group)
          yield* ChannelName.validateChannel(channel)
          const joined = joinedAt.get(group)
          if (joined !== undefined && joined.delete(channel) && joined.size === 0) joinedAt.delete(group)
          queues.unsafeGroupDiscard(group, channel)
        }),
      groupSend: (group, message) =>
        Effect.suspend((): Effect.Effect<void, GroupSendError> => {
          const problem = closed() ?? ChannelName.groupNameProblem(group)
          if (problem !== undefined) return Effect.fail(problem)
          const copy = Message.copy(message)
          if (Either.isLeft(copy)) return Effect.fail(copy.left)
          dropExpiredMembers(group)
          queues.unsafeDeliverGroup(group, copy.right, queues.now() + expiry)
          Metrics.messagesSent.unsafeUpdate(1, labels)
          return Effect.void
        }),
      flush: Effect.zipRight(
        open,
        Effect.sync(() => {
          queues.unsafeFlush()
          joinedAt.clear()
        })
      )
    }
    return instrument("memory", service, { countsSent: true })
  })

/**
 * The in-memory channel layer as a Layer. Fails with `InvalidOptions` when an option is out of
 * range.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: InMemoryOptions = {}): Layer.Layer<ChannelLayer, InvalidOptions> =>
  Layer.scoped(ChannelLayer, make(options))
