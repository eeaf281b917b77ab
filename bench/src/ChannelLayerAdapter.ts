/**
 * A {@link PointToPointAdapter} for any implementation of the `ChannelLayer` service
 * (docs/ARCHITECTURE.md), given the Effect `Layer`s that provide it.
 *
 * The service is described structurally here, so the harness does not depend on a particular
 * build of `@channel-layer/core`: pass core's `ChannelLayer` tag and a transport's layer, e.g.
 *
 * ```ts
 * import { ChannelLayer, InMemory } from "@channel-layer/core"
 * import { RabbitMQ } from "@channel-layer/rabbitmq"
 *
 * ChannelLayerAdapter.make({
 *   transport: "rabbitmq",
 *   tag: ChannelLayer.ChannelLayer,
 *   sender: RabbitMQ.layer({ url }),
 *   receiver: RabbitMQ.layer({ url }),
 *   floors: { throughput: RawAmqp.floor, latency: RawAmqp.names.latency },
 *   targetRatio: 0.9
 * })
 * ```
 * @since 0.1.0
 */
import type { ChannelLayer } from "@channel-layer/core"
import { Context, Effect, Layer, Predicate } from "effect"
import type { Scope } from "effect"
import type { BenchMessage } from "./Message.js"
import type { Probes } from "./Probes.js"
import type { PointToPointAdapter, PointToPointFloors } from "./Transport.js"

/**
 * The service the benchmarks drive: core's `ChannelLayer` service, whichever transport builds it.
 * @since 0.1.0
 * @category models
 */
export type ChannelLayerService = ChannelLayer.ChannelLayerService

/**
 * How a transport's runs are compared and run, whichever way its instances are made (see
 * `PointToPointAdapter`).
 * @since 0.1.0
 * @category models
 */
export interface Comparison {
  readonly floors: PointToPointFloors
  readonly targetRatio?: number
  readonly latencySlackMs?: number
  readonly rounds?: number
  readonly warmupRounds?: number
  /** Prefix passed to `newChannel` for the receiver's channel (default: none). */
  readonly channelPrefix?: string
}

/**
 * Options of {@link make}.
 * @since 0.1.0
 * @category models
 */
export interface Options<I, S extends ChannelLayerService> extends Comparison {
  /** Label in the table and in scenario names. */
  readonly transport: string
  /** The service tag, normally `ChannelLayer.ChannelLayer` from `@channel-layer/core`. */
  readonly tag: Context.Tag<I, S>
  /** The layer instance that sends (its own connection). */
  readonly sender: Layer.Layer<I, unknown>
  /**
   * The layer instance that receives, built separately so it has its own connection. Omit it
   * for the in-memory layer, where sender and receiver must share one instance.
   */
  readonly receiver?: Layer.Layer<I, unknown>
}

/**
 * A sender and a receiver instance of one transport, built in a scope. Broker transports build
 * two instances on separate connections; the in-memory layer returns one instance as both.
 * @since 0.1.0
 * @category models
 */
export interface Instances {
  readonly sender: ChannelLayerService
  readonly receiver: ChannelLayerService
  /** What the transport's broker can tell (RabbitMQ). */
  readonly probes?: Probes
}

/**
 * Builds one instance of a service from its layer, in the current scope.
 * @since 0.1.0
 * @category constructors
 */
export const build = <I, S extends ChannelLayerService>(
  tag: Context.Tag<I, S>,
  layer: Layer.Layer<I, unknown>
): Effect.Effect<S, unknown, Scope.Scope> => Effect.map(Layer.build(layer), (context) => Context.get(context, tag))

/**
 * Options of {@link fromInstances}: {@link Options} with the instances made by an Effect instead
 * of two layers (for transports whose receiver needs something of the sender, such as the
 * address its PUB socket bound).
 * @since 0.1.0
 * @category models
 */
export interface InstancesOptions extends Comparison {
  readonly transport: string
  /** Builds the sender and the receiver; everything it opens is closed with the scope. */
  readonly instances: Effect.Effect<Instances, unknown, Scope.Scope>
}

const isChannelFull = (error: unknown): boolean => Predicate.isTagged(error, "ChannelFull")

/**
 * Sends `message` to `channel`, retrying while it fails with `ChannelFull` (the receiver is behind)
 * as an application would: after yielding, one retrying fiber at a time (`gate`), the others
 * waiting on the gate instead of spinning so that the receiver keeps getting its turns. Any other
 * failure is returned. `onRetry` counts the retries.
 * @since 0.1.0
 * @category sending
 */
export const sendRetryingFull = (
  send: (message: BenchMessage) => Effect.Effect<void, unknown>,
  gate: Effect.Semaphore,
  onRetry: () => void
): (message: BenchMessage) => Effect.Effect<void, unknown> => {
  const retry = (message: BenchMessage): Effect.Effect<void, unknown> =>
    Effect.catchIf(send(message), isChannelFull, () =>
      Effect.suspend(() => {
        onRetry()
        return Effect.zipRight(Effect.yieldNow(), retry(message))
      }))
  return (message) =>
    Effect.catchIf(send(message), isChannelFull, () =>
      Effect.suspend(() => {
        onRetry()
        return gate.withPermits(1)(retry(message))
      }))
}

/**
 * Builds an adapter that, per scenario, makes the instances in the scenario's scope, creates one
 * channel on the receiver, sends to it from the sender and receives on it.
 *
 * A send that fails with `ChannelFull` (the channel's capacity is reached because the receiver is
 * behind, which the in-memory layer reports at once) is retried (see {@link sendRetryingFull});
 * the number of retries is reported in the details. Any other failure fails the scenario.
 * @since 0.1.0
 * @category constructors
 */
export const fromInstances = (options: InstancesOptions): PointToPointAdapter => ({
  transport: options.transport,
  floors: options.floors,
  ...(options.targetRatio !== undefined ? { targetRatio: options.targetRatio } : {}),
  ...(options.latencySlackMs !== undefined ? { latencySlackMs: options.latencySlackMs } : {}),
  ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
  ...(options.warmupRounds !== undefined ? { warmupRounds: options.warmupRounds } : {}),
  setup: Effect.gen(function*() {
    const { receiver, sender } = yield* options.instances
    const channel = options.channelPrefix !== undefined
      ? yield* receiver.newChannel(options.channelPrefix)
      : yield* receiver.newChannel()
    const gate = yield* Effect.makeSemaphore(1)
    let channelFullRetries = 0
    const send = sendRetryingFull((message) => sender.send(channel, message), gate, () => channelFullRetries++)
    return {
      send,
      receive: receiver.receive(channel) as Effect.Effect<BenchMessage, unknown>,
      details: Effect.sync(() => ({ channel, channelFullRetries }))
    }
  })
})

/**
 * Builds an adapter from the sender's and the receiver's layers (see {@link fromInstances}).
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, S extends ChannelLayerService>(options: Options<I, S>): PointToPointAdapter => {
  const { receiver: receiverLayer, sender: senderLayer, tag, ...rest } = options
  return fromInstances({
    ...rest,
    instances: Effect.gen(function*() {
      const sender = yield* build(tag, senderLayer)
      const receiver = receiverLayer ? yield* build(tag, receiverLayer) : sender
      return { sender, receiver }
    })
  })
}
