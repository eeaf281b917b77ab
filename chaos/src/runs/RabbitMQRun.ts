/**
 * The RabbitMQ runs, one with the consumer's queue classic (the default), one quorum: a node of
 * its own on free ports, one TCP proxy per process between it and the node, connections cut every
 * 2 to 5 s on one side or both (but for the last 2 s), and the node's application stopped and
 * started once in the middle.
 */
import { Rabbitmqctl, RabbitNode, TcpProxy } from "@channel-layer/testing"
import type { Scope } from "effect"
import { Chunk, Effect, Random, Ref } from "effect"
import type { CutSide } from "../Faults.js"
import type { TransportSpec } from "../Protocol.js"
import type { RunResult } from "../Report.js"
import * as Session from "../Session.js"

export const run = (
  settings: Session.RunSettings,
  queueType: "classic" | "quorum"
): Effect.Effect<RunResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const node = yield* RabbitNode.startNode({ namePrefix: "chaos" })
    const target = { host: "127.0.0.1", port: node.port }
    const proxies: Proxies = {
      producer: yield* TcpProxy.make({ target }),
      consumer: yield* TcpProxy.make({ target })
    }
    const spec = (proxy: TcpProxy.TcpProxy): TransportSpec => ({
      _tag: "RabbitMQ",
      url: proxy.url(),
      expiryMillis: settings.expiryMillis,
      queueType
    })
    return yield* Session.run(
      queueType === "classic" ? "rabbitmq" : "rabbitmq-quorum",
      settings,
      { producer: spec(proxies.producer), consumer: spec(proxies.consumer), producerFirst: false },
      (session) =>
        Effect.all([cutAtRandom(session, proxies), restartInTheMiddle(session, node, queueType === "classic")], {
          concurrency: "unbounded",
          discard: true
        })
    )
  })

interface Proxies {
  readonly producer: TcpProxy.TcpProxy
  readonly consumer: TcpProxy.TcpProxy
}

/**
 * No cut in the last seconds of sending, so that messages are sent after the last one: its
 * recovery is measured, and "nothing sent after it arrived" means they were all lost.
 */
const quietTailMillis = 2_000

/**
 * The side of each cut: the consumer's alone first, so that every run, even a quick one with two
 * or three cuts, cuts the consumer while the producer keeps sending (a cut of both sides is
 * milder: the producer is reconnecting too); then at random, drawn from a shuffled deck of the
 * three, so that every three cuts cut each side once.
 */
const deckOfSides = Effect.gen(function*() {
  const deck = yield* Ref.make<ReadonlyArray<CutSide>>(["consumer"])
  return Effect.gen(function*() {
    const cards = yield* Ref.get(deck)
    const [side, ...rest] = cards.length > 0
      ? cards
      : Chunk.toReadonlyArray(yield* Random.shuffle<CutSide>(["producer", "consumer", "both"]))
    yield* Ref.set(deck, rest)
    return side
  })
})

/**
 * Waits (up to 10 s) until the proxy has carried a connection for a second. The layer takes a
 * connection that dies within a second of opening for a failed attempt and keeps backing off
 * (up to 5 s): cutting one just after it reconnects tests that back-off, as the fault tests'
 * flapping link does, rather than delivery.
 */
const connectedForASecond = (proxy: TcpProxy.TcpProxy) =>
  proxy.awaitActive((n) => n > 0, "10 seconds").pipe(
    Effect.zipRight(Effect.sleep("1 second")),
    Effect.zipRight(proxy.activeConnections),
    Effect.repeat({ until: (n) => n > 0 }),
    Effect.timeout("10 seconds"),
    Effect.ignore
  )

const cutAtRandom = (session: Session.Session, proxies: Proxies) =>
  Effect.gen(function*() {
    const nextSide = yield* deckOfSides
    const inCuttingTime = () => Date.now() - session.startedAt < session.sendingMillis - quietTailMillis
    const pause = Effect.flatMap(Random.nextIntBetween(2_000, 5_001), (millis) => Effect.sleep(millis))
    // Not while the node restarts (the lock waits for it), and only once the side to cut has
    // been connected for a while (a layer may still be reconnecting after the previous fault).
    const cut = session.whole(Effect.gen(function*() {
      if (!inCuttingTime()) return
      const side = yield* nextSide
      const targets = side === "both" ? [proxies.producer, proxies.consumer] : [proxies[side]]
      yield* Effect.forEach(targets, connectedForASecond)
      const at = Date.now()
      const connections = (yield* Effect.forEach(targets, (proxy) => proxy.cutAll)).reduce((a, b) => a + b, 0)
      // A cut that found no connection (a layer that did not reconnect within 10 s) is no fault
      // of its own: left out, so that what follows is put down to what really happened before.
      if (connections > 0) yield* session.faults.record({ _tag: "Cut", at, side, connections })
      yield* session.log(`cut ${side} (${connections} connection${connections === 1 ? "" : "s"})`)
    }))
    yield* Effect.zipRight(pause, cut).pipe(Effect.repeat({ while: inCuttingTime }))
  })

const restartInTheMiddle = (session: Session.Session, node: RabbitNode.RabbitNode, queueLost: boolean) =>
  Effect.gen(function*() {
    yield* session.sleepUntil(session.sendingMillis / 2)
    yield* session.whole(
      Effect.gen(function*() {
        yield* session.log("rabbitmqctl stop_app")
        const at = Date.now()
        yield* Rabbitmqctl.run(["stop_app"], node.ctl)
        const down = Date.now()
        yield* session.log("rabbitmqctl start_app")
        yield* Rabbitmqctl.run(["start_app"], node.ctl)
        const up = Date.now()
        yield* session.faults.record({ _tag: "BrokerRestart", at, down, up, queueLost })
        yield* session.log(`node back after ${((up - at) / 1000).toFixed(1)} s`)
      })
    )
  })
