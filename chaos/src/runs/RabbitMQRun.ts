/**
 * The RabbitMQ run: a node of its own on free ports, one TCP proxy per process between it and the
 * node, connections cut every 2 to 5 s on one side or both (but for the last 6 s), and the node's
 * application stopped and started once in the middle.
 */
import { Rabbitmqctl, RabbitNode, TcpProxy } from "@channel-layer/testing"
import type { Scope } from "effect"
import { Effect, Random, Ref } from "effect"
import type { CutSide } from "../Faults.js"
import type { TransportSpec } from "../Protocol.js"
import type { RunResult } from "../Report.js"
import * as Session from "../Session.js"

export const run = (settings: Session.RunSettings): Effect.Effect<RunResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const node = yield* RabbitNode.startNode({ namePrefix: "chaos" })
    const target = { host: "127.0.0.1", port: node.port }
    const proxies = {
      producer: yield* TcpProxy.make({ target }),
      consumer: yield* TcpProxy.make({ target })
    }
    const spec = (proxy: TcpProxy.TcpProxy): TransportSpec => ({
      _tag: "RabbitMQ",
      url: proxy.url(),
      expiryMillis: settings.expiryMillis
    })
    return yield* Session.run(
      "rabbitmq",
      settings,
      { producer: spec(proxies.producer), consumer: spec(proxies.consumer), producerFirst: false },
      (session) =>
        Effect.gen(function*() {
          // No cuts while the node restarts: there is nothing to cut, and the recovery measured
          // after the restart is the restart's.
          const restarting = yield* Ref.make(false)
          yield* Effect.all(
            [cutAtRandom(session, proxies, restarting), restartInTheMiddle(session, node, restarting)],
            {
              concurrency: "unbounded",
              discard: true
            }
          )
        })
    )
  })

const sides: ReadonlyArray<CutSide> = ["producer", "consumer", "both"]

/**
 * No cut in the last seconds of sending: longer than the layer's longest retry delay (5 s,
 * jittered up to 6 s), so that delivery has resumed after the last cut before the producer stops
 * and its recovery is always measured (a fault after which nothing arrives fails the run).
 */
const quietTailMillis = 6_000

const cutAtRandom = (
  session: Session.Session,
  proxies: { readonly producer: TcpProxy.TcpProxy; readonly consumer: TcpProxy.TcpProxy },
  restarting: Ref.Ref<boolean>
) => {
  const inCuttingTime = () => Date.now() - session.startedAt < session.sendingMillis - quietTailMillis
  const pause = Effect.flatMap(Random.nextIntBetween(2_000, 5_001), (millis) => Effect.sleep(millis))
  const cut = Effect.gen(function*() {
    if (!inCuttingTime() || (yield* Ref.get(restarting))) return
    const side = sides[yield* Random.nextIntBetween(0, sides.length)]
    const at = Date.now()
    const connections = (side === "consumer" ? 0 : yield* proxies.producer.cutAll) +
      (side === "producer" ? 0 : yield* proxies.consumer.cutAll)
    // A cut that found no connection (a layer still reconnecting) is no fault of its own: left
    // out, so that what follows is put down to what really happened before.
    if (connections > 0) yield* session.faults.record({ _tag: "Cut", at, side, connections })
    yield* session.log(`cut ${side} (${connections} connection${connections === 1 ? "" : "s"})`)
  })
  return Effect.zipRight(pause, cut).pipe(Effect.repeat({ while: inCuttingTime }))
}

const restartInTheMiddle = (session: Session.Session, node: RabbitNode.RabbitNode, restarting: Ref.Ref<boolean>) =>
  Effect.gen(function*() {
    yield* session.sleepUntil(session.sendingMillis / 2)
    yield* session.whole(
      Effect.gen(function*() {
        yield* Ref.set(restarting, true)
        yield* session.log("rabbitmqctl stop_app")
        const at = Date.now()
        yield* Rabbitmqctl.run(["stop_app"], node.ctl)
        const down = Date.now()
        yield* session.log("rabbitmqctl start_app")
        yield* Rabbitmqctl.run(["start_app"], node.ctl)
        const up = Date.now()
        yield* session.faults.record({ _tag: "BrokerRestart", at, down, up })
        yield* session.log(`node back after ${((up - at) / 1000).toFixed(1)} s`)
      }).pipe(Effect.ensuring(Ref.set(restarting, false)))
    )
  })
