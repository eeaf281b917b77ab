/**
 * The layer itself on a live Redis: two instances in one process (each with its own connections,
 * as two processes would have), one sending to the other's channel.
 *
 * 1. throughput: 10,000 sends, 100 in flight, received as they arrive;
 * 2. latency: 2,000 sends one at a time, each received before the next (send to receipt);
 * 3. a normal channel: 5,000 sends, received by 4 concurrent receives in the other instance.
 *
 * Run: `npx tsx packages/redis/test/bench/layer.ts [redis://127.0.0.1:6379/0]`.
 */
import { Redis } from "@channel-layer/redis"
import { Effect, Fiber } from "effect"
import { randomBytes } from "node:crypto"

const url = process.argv[2] ?? "redis://127.0.0.1:6379/0"
const prefix = `bench-layer-${randomBytes(4).toString("hex")}:`

const program = Effect.gen(function*() {
  const one = (yield* Redis.make({ hosts: [url], prefix, capacity: 100_000 })).channelLayer
  const two = (yield* Redis.make({ hosts: [url], prefix, capacity: 100_000 })).channelLayer
  const target = yield* two.newChannel()
  const now = () => performance.now()

  const total = 10_000
  let start = now()
  const receiving = Effect.fork(Effect.replicateEffect(two.receive(target), total))
  const receiver = yield* receiving
  yield* Effect.forEach(
    Array.from({ length: total }, (_, i) => i),
    (i) => one.send(target, { type: "bench", i, text: "x".repeat(100) }),
    { concurrency: 100, discard: true }
  )
  const sendMs = now() - start
  yield* receiver.await
  const throughputMs = now() - start

  const latencies: Array<number> = []
  for (let i = 0; i < 2000; i++) {
    const at = now()
    yield* one.send(target, { type: "ping", i })
    yield* two.receive(target)
    latencies.push(now() - at)
  }
  latencies.sort((a, b) => a - b)

  const jobs = `jobs-${randomBytes(4).toString("hex")}`
  const normal = 5000
  start = now()
  let taken = 0
  const workers = yield* Effect.fork(
    Effect.all(
      Array.from(
        { length: 4 },
        () =>
          Effect.suspend(() => taken < normal ? Effect.map(two.receive(jobs), () => taken++) : Effect.void).pipe(
            Effect.repeat({ while: () => taken < normal })
          )
      ),
      { concurrency: "unbounded" }
    )
  )
  yield* Effect.forEach(
    Array.from({ length: normal }, (_, i) => i),
    (i) => one.send(jobs, { type: "job", i }),
    { concurrency: 100, discard: true }
  )
  yield* Effect.sleep("5 millis").pipe(Effect.repeat({ until: () => taken >= normal }))
  const normalMs = now() - start
  yield* Fiber.interrupt(workers)

  return {
    sendsPerSecond: Math.round(total / (sendMs / 1000)),
    deliveredPerSecond: Math.round(total / (throughputMs / 1000)),
    latencyP50Ms: Number(latencies[1000].toFixed(3)),
    latencyP99Ms: Number(latencies[1980].toFixed(3)),
    normalChannelPerSecond: Math.round(normal / (normalMs / 1000))
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  (result) => console.log(JSON.stringify(result)),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
