/**
 * Every floor scenario, in the order they run.
 * @since 0.1.0
 */
import * as EffectQueue from "./floors/EffectQueue.js"
import * as RawAmqp from "./floors/RawAmqp.js"
import * as RawRedis from "./floors/RawRedis.js"
import * as RawZeroMQ from "./floors/RawZeroMQ.js"
import type { Scenario } from "./Scenario.js"

export {
  /**
   * @since 0.1.0
   */
  EffectQueue,
  /**
   * @since 0.1.0
   */
  RawAmqp,
  /**
   * @since 0.2.0
   */
  RawRedis,
  /**
   * @since 0.1.0
   */
  RawZeroMQ
}

/**
 * The floor scenarios: the latency floors. The throughput floors (`EffectQueue.floor`,
 * `RawAmqp.floor`, `RawZeroMQ.floor`) run inside the point-to-point scenarios, a round next to each
 * of the transport's rounds.
 * @since 0.1.0
 * @category scenarios
 */
export const floors: ReadonlyArray<Scenario> = [
  RawAmqp.latencyFloor,
  RawZeroMQ.latencyFloor,
  RawZeroMQ.forwardedLatencyFloor,
  RawRedis.latencyFloor
]
