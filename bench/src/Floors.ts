/**
 * Every floor scenario, in the order they run.
 * @since 0.1.0
 */
import * as EffectQueue from "./floors/EffectQueue.js"
import * as RawAmqp from "./floors/RawAmqp.js"
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
   * @since 0.1.0
   */
  RawZeroMQ
}

/**
 * The floors: in-memory, raw amqplib at window 100 and 1, raw zeromq, and the two latency floors.
 * @since 0.1.0
 * @category scenarios
 */
export const floors: ReadonlyArray<Scenario> = [
  EffectQueue.scenario,
  RawAmqp.window100,
  RawAmqp.window1,
  RawZeroMQ.throughputFloor,
  RawAmqp.latencyFloor,
  RawZeroMQ.latencyFloor
]
