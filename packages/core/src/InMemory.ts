/**
 * The single-process channel layer, like Django's `InMemoryChannelLayer`: every channel and group
 * lives in this process, so it serves tests and single-server deployments. It is a loopback
 * backend of `ChannelLayer.make`: every channel is local and every group member too. It is the
 * only layer with `flush` (on a service of its own, `InMemoryFlush`) and `groupExpiry`.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Duration, Effect, Layer } from "effect"
import type * as Backend from "./Backend.js"
import * as ChannelCapacity from "./ChannelCapacity.js"
import { ChannelLayer, type ChannelLayerService, make as makeLayer } from "./ChannelLayer.js"
import { randomLetters } from "./ChannelName.js"
import type { InvalidOptions, LayerClosed } from "./Errors.js"
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
 * `flush`: drops every buffered message and every group membership of the in-memory layer, as
 * Django's `flush()` does in tests. Only the in-memory layer provides it, so asking a broker
 * transport to flush does not compile.
 *
 * @since 0.1.0
 * @category tags
 */
export class InMemoryFlush extends Context.Tag("@channel-layer/core/InMemoryFlush")<
  InMemoryFlush,
  { readonly flush: Effect.Effect<void, LayerClosed> }
>() {}

/**
 * An in-memory layer instance: the service, and its `flush`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Instance {
  readonly service: ChannelLayerService
  readonly flush: Effect.Effect<void, LayerClosed>
}

const loopback: Backend.Backend = {
  newChannel: (prefix) => Effect.succeed(`${prefix ?? "specific"}.inmemory!${randomLetters(12)}`),
  route: () => "local",
  refuses: () => undefined,
  // Never called: every channel is local, and no group message leaves the process.
  publish: () => Effect.void,
  groups: {
    fanOutLocally: true,
    leaves: () => false,
    publish: () => Effect.void,
    join: (_group, _channel, _first, apply) => Effect.sync(apply),
    rejoin: () => Effect.void,
    leave: (_group, _channel, _last, apply) => Effect.sync(apply)
  }
}

/**
 * Makes an in-memory channel layer that lives as long as the current scope. Fails with
 * `InvalidOptions` when an option is out of range.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInstance = (
  options: InMemoryOptions = {}
): Effect.Effect<Instance, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = yield* Options.positiveInteger("capacity", options.capacity ?? 100)
    for (const [pattern, value] of ChannelCapacity.capacities(options.channelCapacity)) {
      yield* Options.positiveInteger(`channelCapacity[${pattern}]`, value)
    }
    const expiry = yield* Options.positiveDuration("expiry", options.expiry ?? Duration.seconds(60))
    const groupExpiry = yield* Options.positiveDuration("groupExpiry", options.groupExpiry ?? Duration.days(1))
    return yield* makeLayer({
      transport: "memory",
      expiry,
      groupExpiry,
      capacityOf: ChannelCapacity.resolver(capacity, options.channelCapacity),
      backend: () => Effect.succeed(loopback)
    })
  })

/**
 * Makes an in-memory channel layer service that lives as long as the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: InMemoryOptions = {}
): Effect.Effect<ChannelLayerService, InvalidOptions, Scope.Scope> =>
  Effect.map(makeInstance(options), (instance) => instance.service)

/**
 * The in-memory channel layer as a Layer providing `ChannelLayer` and `InMemoryFlush`. Fails with
 * `InvalidOptions` when an option is out of range.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: InMemoryOptions = {}): Layer.Layer<ChannelLayer | InMemoryFlush, InvalidOptions> =>
  Layer.scopedContext(
    Effect.map(
      makeInstance(options),
      ({ flush, service }) => Context.make(ChannelLayer, service).pipe(Context.add(InMemoryFlush, { flush }))
    )
  )
