/**
 * The transports measured next to the floors. Each entry becomes `p2p-<transport>-w1`,
 * `p2p-<transport>-w100` and `latency-<transport>` (see `Transport.scenarios`).
 *
 * Empty until the layer packages exist; wire them with `ChannelLayerAdapter.make`, e.g.
 *
 * ```ts
 * ChannelLayerAdapter.make({
 *   transport: "in-memory",
 *   tag: ChannelLayer.ChannelLayer,
 *   sender: InMemory.layer(),                     // no receiver: one shared instance
 *   floors: { window1: EffectQueue.name, window100: EffectQueue.name },
 *   targetRatio: 0.5,
 *   rounds: EffectQueue.rounds
 * })
 * ChannelLayerAdapter.make({
 *   transport: "zeromq-embedded",
 *   tag: ChannelLayer.ChannelLayer,
 *   sender: ZeroMQ.layerEmbedded({ ... }),
 *   receiver: ZeroMQ.layerEmbedded({ ... }),
 *   floors: { window1: RawZeroMQ.names.throughput, window100: RawZeroMQ.names.throughput, latency: RawZeroMQ.names.latency },
 *   targetRatio: 0.8
 * })
 * ```
 * @since 0.1.0
 */
import { ChannelLayer, InMemory } from "@channel-layer/core"
import * as ChannelLayerAdapter from "./ChannelLayerAdapter.js"
import * as EffectQueue from "./floors/EffectQueue.js"
import type { BenchConfig } from "./Scenario.js"
import type { PointToPointAdapter } from "./Transport.js"

/**
 * The adapters of this run (the config carries the broker URL and the counts).
 * @since 0.1.0
 * @category transports
 */
export const transports = (_config: BenchConfig): ReadonlyArray<PointToPointAdapter> => [
  ChannelLayerAdapter.make({
    transport: "in-memory",
    tag: ChannelLayer.ChannelLayer,
    sender: InMemory.layer(),
    floors: { window1: EffectQueue.name, window100: EffectQueue.name },
    targetRatio: 0.5,
    rounds: EffectQueue.rounds
  })
]
