/**
 * The ZeroMQ embedded run: no broker; the producer binds its PUB socket on a fixed port and the
 * consumer subscribes to it. The producer is killed with SIGKILL (one kill per 30 s of run, at
 * least one) and a new one binds the same port and sends on.
 */
import { Ports } from "@channel-layer/testing"
import type { Scope } from "effect"
import { Effect } from "effect"
import { killOffsets } from "../Faults.js"
import type { RunResult } from "../Report.js"
import * as Session from "../Session.js"

export const run = (settings: Session.RunSettings): Effect.Effect<RunResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const [port] = yield* Ports.free(1)
    return yield* Session.run(
      "zeromq-embedded",
      settings,
      {
        producer: {
          _tag: "ZeroMQEmbedded",
          publishAddress: Ports.tcp(port),
          subscribeAddresses: [],
          expiryMillis: settings.expiryMillis
        },
        consumer: {
          _tag: "ZeroMQEmbedded",
          publishAddress: "tcp://127.0.0.1:*",
          subscribeAddresses: [Ports.tcp(port)],
          expiryMillis: settings.expiryMillis
        },
        producerFirst: true
      },
      (session) =>
        Effect.forEach(
          killOffsets(settings.sendingMillis),
          (offset) => Effect.zipRight(session.sleepUntil(offset), session.whole(session.replaceProducer)),
          { discard: true }
        )
    )
  })
