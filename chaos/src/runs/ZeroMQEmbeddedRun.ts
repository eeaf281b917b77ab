/**
 * The ZeroMQ embedded run: no broker; the producer binds its PUB socket on a fixed port and the
 * consumer subscribes to it. The producer is killed with SIGKILL (one kill per 30 s of run, at
 * least one) and a new one binds the same port and sends on.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { killOffsets } from "../Faults.js"
import * as FreePorts from "../FreePorts.js"
import type { RunResult } from "../Report.js"
import * as Session from "../Session.js"

export const run = (settings: Session.RunSettings): Effect.Effect<RunResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const [port] = yield* FreePorts.take(1)
    return yield* Session.run(
      "zeromq-embedded",
      settings,
      {
        producer: {
          _tag: "ZeroMQEmbedded",
          publishAddress: FreePorts.tcp(port),
          subscribeAddresses: [],
          expiryMillis: settings.expiryMillis
        },
        consumer: {
          _tag: "ZeroMQEmbedded",
          publishAddress: "tcp://127.0.0.1:*",
          subscribeAddresses: [FreePorts.tcp(port)],
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
