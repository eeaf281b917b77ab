/**
 * The consumer process: makes a channel, joins the group with it, says where it receives, and
 * records every message that arrives, until the orchestrator ends it.
 */
import { ChannelLayer } from "@channel-layer/core"
import { Effect, Either, Schema } from "effect"
import { ChaosMessage } from "../Records.js"
import { runWorker } from "./Main.js"
import * as Parent from "./Parent.js"

const group = "chaos"

const decode = Schema.decodeUnknownEither(ChaosMessage)

runWorker(({ parent, records }) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const channel = yield* layer.newChannel("chaos")
    yield* layer.groupAdd(group, channel)
    yield* layer.receive(channel).pipe(
      Effect.flatMap((message) => {
        const body = decode(message)
        if (Either.isLeft(body)) return Effect.logWarning(`not a chaos message: ${JSON.stringify(message)}`)
        const { kind, sender, seq } = body.right
        return records.write({ _tag: "arrival", sender, seq, kind, at: Date.now() })
      }),
      Effect.forever,
      Effect.forkScoped
    )
    yield* parent.send({ _tag: "Ready", channel, group, rss: process.memoryUsage.rss() })
    yield* Parent.serve(parent)
  }).pipe(Effect.scoped)
)
