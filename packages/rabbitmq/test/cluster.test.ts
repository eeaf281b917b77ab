/**
 * A three-node cluster of the test's own, with the consumer connected to node A and the producer
 * to node B; node A stops while messages flow. What is lost depends on where the queue lives:
 *
 * - a classic queue (the default) lives on the node its instance declared it on, A: it goes with
 *   A. The consumer fails over to B and declares it again there; the messages that were in it
 *   when A stopped are lost, direct sends while it is missing fail with ChannelNotFound, group
 *   sends while it is missing reach no queue (counted).
 * - a quorum queue (`queueType: "quorum"`) is replicated on all three: B and C elect a new
 *   leader and carry on, and nothing that a send reported as sent is lost.
 */
import { type ChannelLayer, Metrics } from "@channel-layer/core"
import { RabbitNode } from "@channel-layer/testing"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Metric } from "effect"
import { RabbitMQMetrics } from "../src/index.js"
import { awaitNewConnection, fastRetry, instance, Ledger, unique, waitUntil } from "./fault-helpers.js"

class Cluster extends Context.Tag("cluster.test/Cluster")<Cluster, ReadonlyArray<RabbitNode.RabbitNode>>() {}

const ClusterLive = Layer.scoped(Cluster, RabbitNode.startCluster(3, { namePrefix: "rabbit-cluster" }))

const counted = (metric: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(Metric.tagged(metric, "transport", "rabbitmq")), (state) => state.count)

/** Runs producer-to-consumer load across a stop of node A; returns what happened. */
const acrossNodeStop = (queueType: "classic" | "quorum") =>
  Effect.gen(function*() {
    const [a, b, c] = yield* Cluster
    yield* a.start
    const consumer = yield* instance({ url: [a.url(), b.url(), c.url()], retrySchedule: fastRetry, queueType })
    const producer = yield* instance({ url: [b.url()], retrySchedule: fastRetry })
    const channel = yield* consumer.layer.newChannel()
    const group = unique("cluster")
    yield* consumer.layer.groupAdd(group, channel)
    const previous = yield* consumer.services.connection.connection

    const ledger = new Ledger()
    yield* consumer.layer.receive(channel).pipe(
      Effect.map((message) => ledger.arrived(message)),
      Effect.forever,
      Effect.forkScoped
    )
    const returnedBefore = yield* counted(RabbitMQMetrics.groupSendsUnroutable)
    const unroutableBefore = yield* counted(Metrics.messagesUnroutable)
    let stop = false
    let next = 0
    const load = Effect.gen(function*() {
      while (!stop) {
        const ids = Array.from({ length: 10 }, () => next++)
        yield* Effect.forEach(ids, (id) => {
          const message = { type: "cluster.load", id }
          const send: Effect.Effect<void, ChannelLayer.SendError | ChannelLayer.GroupSendError> = id % 5 === 4
            ? producer.layer.groupSend(group, message)
            : producer.layer.send(channel, message)
          return ledger.track(id, send)
        }, { concurrency: 10, discard: true })
      }
    })
    const loadFiber = yield* Effect.forkScoped(load)
    yield* waitUntil("500 messages through node A", () => ledger.arrivals.size >= 500)

    let lostAt = 0
    previous.once("close", () => lostAt = Date.now())
    yield* a.stop
    yield* awaitNewConnection(consumer, previous, "60 seconds")
    const failedOverAfter = Date.now() - lostAt
    const liveFrom = ledger.started
    yield* waitUntil("500 more messages through node B", () => ledger.arrivals.size >= liveFrom + 300, "60 seconds")
    stop = true
    yield* Fiber.join(loadFiber)
    yield* waitUntil("every confirmed send to arrive", () => ledger.allSentArrived(), "10 seconds").pipe(
      Effect.ignore
    )
    const summary = ledger.summary()
    let directLost = 0
    let groupLost = 0
    for (const [id, outcome] of ledger.outcomes) {
      if (outcome._tag !== "Sent" || ledger.arrivals.has(id)) continue
      if (id % 5 === 4) groupLost++
      else directLost++
    }
    const failures = (tag: string) => summary.other.filter((line) => line.includes(` ${tag}: `)).length
    const result = {
      queueType,
      reconnectedAfterMs: failedOverAfter,
      attempted: summary.attempted,
      sent: summary.sent,
      delivered: summary.delivered,
      connectionClosed: summary.closed,
      channelNotFound: failures("ChannelNotFound"),
      channelFull: failures("ChannelFull"),
      directLost,
      groupLost,
      groupSendsReturned: (yield* counted(RabbitMQMetrics.groupSendsUnroutable)) - returnedBefore,
      directSendsReturned: (yield* counted(Metrics.messagesUnroutable)) - unroutableBefore,
      duplicates: summary.duplicates,
      missingAfterFailover: ledger.missingIn(liveFrom, ledger.started),
      otherFailures: summary.other.filter((line) => !/ (ChannelNotFound|ChannelFull): /.test(line))
    }
    console.log(`node A stopped under load, ${queueType} queue: ${JSON.stringify(result)}`)
    return result
  })

layer(ClusterLive, { timeout: 240_000, excludeTestServices: true })(
  "RabbitMQ cluster: consumer on node A, producer on node B, node A stops",
  (it) => {
    it.scoped(
      "classic queue: it goes with node A; the consumer declares it again on B; sends meanwhile fail or are counted",
      () =>
        Effect.gen(function*() {
          const result = yield* acrossNodeStop("classic")
          expect(result.duplicates).toBe(0)
          expect(result.otherFailures).toEqual([])
          // Everything sent once the queue was back on B arrived.
          expect(result.missingAfterFailover).toBe(0)
          // A direct send to the missing queue is refused with a typed error, never lost unseen.
          expect(result.channelNotFound).toBe(result.directSendsReturned)
          // What is lost unseen is what the queue held when its node stopped: at most its capacity.
          expect(result.directLost + result.groupLost - result.groupSendsReturned).toBeLessThanOrEqual(100)
        }),
      { timeout: 180_000 }
    )

    it.scoped(
      "quorum queue: replicated on B and C, it carries on: nothing a send reported as sent is lost",
      () =>
        Effect.gen(function*() {
          const result = yield* acrossNodeStop("quorum")
          expect(result.duplicates).toBe(0)
          expect(result.otherFailures).toEqual([])
          expect(result.channelNotFound).toBe(0)
          expect(result.channelFull).toBe(0)
          expect(result.directLost).toBe(0)
          expect(result.groupLost).toBe(0)
        }),
      { timeout: 180_000 }
    )
  }
)
