/**
 * The Redis floors: what the Redis client alone (`@redis/client`, the transport's) does on this
 * machine and server for the transport's workload.
 *
 * A message is what channels_redis stores: 12 random bytes and the msgpack body, a member of a
 * sorted set scored by its send time. One connection adds members (`ZADD`, `window` in flight); a
 * second one takes them in a `BZPOPMIN` loop and decodes them, as any receiver must.
 * @since 0.2.0
 */
import { createClient, RESP_TYPES } from "@redis/client"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { performance } from "node:perf_hooks"
import type { BenchMessage } from "../Message.js"
import { decode, encode, makeMessages } from "../Message.js"
import type { Scenario, ThroughputFloor } from "../Scenario.js"
import { latency } from "../Scenario.js"
import { LatencyRecorder, paced } from "../Stats.js"

/**
 * Scenario name of the Redis latency floor.
 * @since 0.2.0
 * @category names
 */
export const names = { latency: "floor-redis-latency" } as const

/**
 * The Redis URL of the floors and of the transport's rows: `$REDIS_URL`, or the local server.
 * @since 0.2.0
 * @category constants
 */
export const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0"

type Client = ReturnType<typeof connect>

const connect = () => createClient({ url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })

/** A sender, a receiver parked in a `BZPOPMIN` loop, and their key; closed with the scope. */
const openPair = Effect.acquireRelease(
  Effect.tryPromise({
    try: async () => {
      const sender: Client = connect()
      const receiver: Client = connect()
      sender.on("error", () => undefined)
      receiver.on("error", () => undefined)
      await Promise.all([sender.connect(), receiver.connect()])
      const pair = {
        sender,
        receiver,
        key: `bench-floor:${randomBytes(8).toString("hex")}`,
        onDelivery: (_body: Buffer) => {},
        open: true
      }
      const loop = async () => {
        while (pair.open) {
          const reply = (await receiver.sendCommand(["BZPOPMIN", pair.key, "1"]).catch(() => null)) as
            | [Buffer, Buffer, Buffer]
            | null
          if (reply !== null) pair.onDelivery(reply[1])
        }
      }
      void loop()
      return pair
    },
    catch: (cause) => new Error(`cannot open the Redis floor connections on ${url}: ${String(cause)}`, { cause })
  }),
  (pair) =>
    Effect.promise(async () => {
      pair.open = false
      await pair.sender.sendCommand(["DEL", pair.key]).catch(() => undefined)
      pair.sender.destroy()
      pair.receiver.destroy()
    })
)

/** The member channels_redis stores for `message`: 12 random bytes, then its msgpack. */
const member = (message: BenchMessage): Buffer => Buffer.concat([randomBytes(12), encode(message)])

/** Send time in seconds, strictly increasing, as the layers score members. */
let lastScore = 0
const score = () => (lastScore = Math.max(Date.now() / 1000, lastScore + 1e-6)).toFixed(6)

/**
 * The raw Redis floor, a round at a time: `ZADD` with `window` commands in flight, a `BZPOPMIN`
 * loop on a second connection; first send to last delivery.
 * @since 0.2.0
 * @category floors
 */
export const floor: ThroughputFloor = {
  transport: "redis-client",
  description: "raw @redis/client, ZADD of channels_redis's members, a BZPOPMIN loop on a second connection",
  open: () =>
    Effect.map(
      openPair,
      (pair) => (messages: ReadonlyArray<BenchMessage>, window: number) =>
        Effect.promise(() =>
          new Promise<number>((resolve) => {
            const n = messages.length
            let delivered = 0
            let next = 0
            const start = performance.now()
            pair.onDelivery = (body) => {
              decode(body.subarray(12))
              if (++delivered === n) resolve(performance.now() - start)
            }
            const sendNext = (): Promise<void> | undefined => {
              if (next >= n) return undefined
              const message = messages[next++]
              return pair.sender.sendCommand(["ZADD", pair.key, score(), member(message)]).then(sendNext)
            }
            for (let i = 0; i < Math.min(window, n); i++) void sendNext()
          })
        )
    )
}

/**
 * The raw Redis latency floor: `ZADD` at the run's fixed rate, a `BZPOPMIN` loop receiving.
 * @since 0.2.0
 * @category floors
 */
export const latencyFloor: Scenario = {
  name: names.latency,
  description: "raw @redis/client send-to-delivery latency at a fixed rate (ZADD, a BZPOPMIN loop)",
  run: (context) =>
    Effect.gen(function*() {
      const { latencyRate, latencySeconds } = context.config
      const total = Math.round(latencyRate * latencySeconds)
      const pair = yield* openPair
      const messages = makeMessages(total, true)
      const recorder = new LatencyRecorder(total)
      pair.onDelivery = (body) => {
        recorder.delivered(decode(body.subarray(12)).seq)
        context.progress(recorder.deliveredSoFar, total)
      }
      yield* Effect.promise(() =>
        paced(total, latencyRate, (seq) => {
          recorder.sent(seq)
          void pair.sender.sendCommand(["ZADD", pair.key, score(), member(messages[seq])])
        })
      )
      yield* Effect.promise(() => recorder.waitAll(5_000))
      const summary = recorder.summary()
      return { measurements: latency(names.latency, "redis-client", summary), details: { ...summary } }
    })
}
