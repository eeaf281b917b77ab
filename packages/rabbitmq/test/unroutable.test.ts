/**
 * Sends the broker cannot route. The instance's queue outlives reconnects, so a direct send that
 * finds no queue of the channel's name means its owner is gone: the send fails with
 * ChannelNotFound, and the layer counts and logs it. A group send with no member anywhere still
 * succeeds, and is counted.
 */
import { Metrics } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { RabbitMQMetrics } from "../src/index.js"
import { captureLogs, instance, unique, waitFor } from "./helpers.js"

const count = (metric: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(Metric.tagged(metric, "transport", "rabbitmq")), (state) => state.count)

describe("RabbitMQ sends that reach no queue", () => {
  it.scopedLive("a direct send to a channel whose queue is gone fails with ChannelNotFound, logged and counted", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const { layer } = yield* instance()
      const gone = "channels_NoSuchQueueXy!abcdefghijkl"
      const before = yield* count(Metrics.messagesUnroutable)
      const error = yield* Effect.flip(layer.send(gone, { type: "lost.message" }))
      expect(error._tag).toBe("ChannelNotFound")
      expect(error.message).toBe(
        "channel channels_NoSuchQueueXy!abcdefghijkl not found: the broker has no queue channels_NoSuchQueueXy: " +
          "the layer instance that owned the channel is gone"
      )
      expect(yield* count(Metrics.messagesUnroutable)).toBe(before + 1)
      yield* waitFor(
        "the unroutable warning",
        () => logs.some((line) => line.message.includes("returned by the broker"))
      )
      const warning = logs.find((line) => line.message.includes("returned by the broker"))!
      expect(warning.level).toBe("WARN")
      expect(warning.message).toBe(
        "1 direct send(s) returned by the broker: no queue has the channel's name (the layer instance that owned it " +
          `is gone); each failed with ChannelNotFound: ${gone} (1)`
      )
      // The layer's own channels are unaffected, and so are sends in flight next to a returned one.
      const mine = yield* layer.newChannel()
      const results = yield* Effect.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            Effect.either(i % 2 === 0 ? layer.send(mine, { type: "kept", i }) : layer.send(gone, { type: "kept", i }))
        ),
        { concurrency: "unbounded" }
      )
      expect(results.map((result) => result._tag === "Right" ? "ok" : result.left._tag)).toEqual(
        Array.from({ length: 20 }, (_, i) => i % 2 === 0 ? "ok" : "ChannelNotFound")
      )
      for (let i = 0; i < 20; i += 2) expect(yield* layer.receive(mine)).toEqual({ type: "kept", i })
    }))

  it.scopedLive("a group send with no member anywhere succeeds and is counted", () =>
    Effect.gen(function*() {
      const { layer } = yield* instance()
      const before = yield* count(RabbitMQMetrics.groupSendsUnroutable)
      yield* layer.groupSend(unique("empty-room"), { type: "nobody.home" })
      // The return arrives just before the confirm: counted by the time the send succeeded.
      expect(yield* count(RabbitMQMetrics.groupSendsUnroutable)).toBe(before + 1)
    }))
})
