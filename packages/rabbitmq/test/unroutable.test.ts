import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { captureLogs, instance, waitFor } from "./helpers.js"

describe("RabbitMQ direct send to a channel whose queue is gone", () => {
  it.scopedLive("succeeds, as in the Python layer, and the drop is logged naming the queue", () =>
    Effect.gen(function*() {
      const logs = yield* captureLogs()
      const { layer } = yield* instance()
      const gone = "channels_NoSuchQueueXy!abcdefghijkl"
      yield* layer.send(gone, { type: "lost.message" })
      yield* waitFor("the unroutable warning", () => logs.some((line) => line.message.includes("no queue")))
      const warning = logs.find((line) => line.message.includes("no queue"))!
      expect(warning.level).toBe("WARN")
      expect(warning.message).toBe(
        "direct message dropped by the broker: no queue channels_NoSuchQueueXy " +
          "(the layer instance that owned the channel is gone)"
      )
      // The layer's own channels are unaffected.
      const mine = yield* layer.newChannel()
      yield* layer.send(mine, { type: "kept" })
      expect((yield* layer.receive(mine)).type).toBe("kept")
    }))
})
