/**
 * The producer process: connects, says it is ready, waits for the consumer's channel and group,
 * sends until told to stop, then reports its memory and the layer's unroutable count (and
 * whenever asked).
 */
import { ChannelLayer } from "@channel-layer/core"
import { Deferred, Effect } from "effect"
import { runWorker } from "./Main.js"
import * as Parent from "./Parent.js"
import * as SendStream from "./SendStream.js"

runWorker(({ config, parent, records }) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    // A channel of its own makes the layer connect now, so the first sends do not wait for it.
    yield* layer.newChannel("producer")
    yield* parent.send({ _tag: "Ready", rss: process.memoryUsage.rss() })
    const { channel, group } = yield* parent.expect("Go")
    const stop = yield* Deferred.make<void>()
    yield* Effect.forkScoped(Parent.serve(parent, Deferred.succeed(stop, undefined)))
    yield* SendStream.run({ layer, sender: config.name, channel, group, load: config.load, records, stop })
    yield* Parent.report(parent)
    yield* Effect.never
  }).pipe(Effect.scoped)
)
