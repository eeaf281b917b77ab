/**
 * The ZeroMQ floors: what zeromq.js alone does over PUB/SUB on loopback TCP.
 *
 * A PUB socket binds `tcp://127.0.0.1:<free port>`, a SUB socket connects and subscribes to one
 * topic. Messages are two frames (topic, msgpack body). Nothing may be dropped: high-water marks
 * sit far above the message count, the publisher has `noDrop` (it waits instead of dropping), and
 * timing starts only once the subscription is live (probes are sent until one arrives; probes
 * have an empty body and are not counted). zeromq.js allows one pending send and one pending
 * receive per socket, so there is exactly one reader loop and sends are awaited one at a time.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { Publisher, Subscriber, version as libzmqVersion } from "zeromq"
import type { BenchMessage } from "../Message.js"
import { decode, encode, makeMessages } from "../Message.js"
import type { Scenario, ThroughputFloor } from "../Scenario.js"
import { latency } from "../Scenario.js"
import { LatencyRecorder, paced } from "../Stats.js"

/**
 * Scenario name of the ZeroMQ latency floor (the throughput floor runs inside the transport's
 * scenarios, see {@link floor}).
 * @since 0.1.0
 * @category names
 */
export const names = {
  latency: "floor-zmq-latency"
} as const

/**
 * Timed rounds of the ZeroMQ point-to-point runs, each next to a round of the floor: a round of
 * 20,000 messages takes about 0.1 s, so one round alone is noise (the floor moved between 92k and
 * 205k msg/s from run to run). The medians are reported, after one untimed round of each.
 * @since 0.1.0
 * @category constants
 */
export const rounds = 5

const TOPIC = Buffer.from("bench.p2p!")
const PROBE = Buffer.alloc(0)

/**
 * A connected PUB/SUB pair with a live subscription. `onDelivery` is swapped per run.
 * @since 0.1.0
 * @category models
 */
export interface ZmqPair {
  readonly pub: Publisher
  readonly sub: Subscriber
  readonly endpoint: string
  readonly probes: number
  onDelivery: (body: Buffer) => void
}

const closeSockets = (pub: Publisher, sub: Subscriber) => {
  if (!sub.closed) sub.close()
  if (!pub.closed) pub.close()
}

/**
 * Binds, connects, subscribes and waits until a probe goes through; closes both sockets when the
 * scope ends (the reader loop then ends quietly).
 * @since 0.1.0
 * @category resources
 */
export const openPair = (highWaterMark: number) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async (): Promise<ZmqPair> => {
        const pub = new Publisher({ sendHighWaterMark: highWaterMark, noDrop: true, linger: 0 })
        const sub = new Subscriber({ receiveHighWaterMark: highWaterMark, linger: 0 })
        try {
          await pub.bind("tcp://127.0.0.1:*")
          const endpoint = pub.lastEndpoint
          if (endpoint === null) throw new Error("the PUB socket has no endpoint after bind")
          sub.connect(endpoint)
          sub.subscribe(TOPIC)
          let live = false
          let probes = 0
          const pair: ZmqPair = {
            pub,
            sub,
            endpoint,
            get probes() {
              return probes
            },
            onDelivery: () => {}
          }
          const reader = async () => {
            while (!sub.closed) {
              const [, body] = await sub.receive()
              if (body.length === 0) live = true
              else pair.onDelivery(body)
            }
          }
          reader().catch(() => {}) // rejected when the socket closes: the end of the loop
          const deadline = performance.now() + 5_000
          while (!live) {
            if (performance.now() > deadline) throw new Error(`no probe arrived on ${endpoint} within 5 s`)
            await pub.send([TOPIC, PROBE])
            probes++
            await sleep(5)
          }
          return pair
        } catch (error) {
          closeSockets(pub, sub)
          throw error
        }
      },
      catch: (cause) => new Error(`cannot open the zeromq floor sockets: ${String(cause)}`, { cause })
    }),
    (pair) => Effect.sync(() => closeSockets(pair.pub, pair.sub))
  )

/**
 * Sends `messages` one awaited `send` at a time and resolves when the subscriber received them all:
 * first send to last delivery.
 * @since 0.1.0
 * @category runs
 */
export const sendAndReceive = (
  pair: ZmqPair,
  messages: ReadonlyArray<BenchMessage>,
  progress: (done: number, total: number) => void
): Promise<{ readonly elapsedMs: number; readonly sentMs: number; readonly delivered: number }> =>
  new Promise((resolve, reject) => {
    const n = messages.length
    let delivered = 0
    let sentMs = 0
    const start = performance.now()
    pair.onDelivery = (body) => {
      decode(body)
      delivered++
      progress(delivered, n)
      if (delivered === n) resolve({ elapsedMs: performance.now() - start, sentMs, delivered })
    }
    const send = async () => {
      for (let i = 0; i < n; i++) await pair.pub.send([TOPIC, encode(messages[i])])
      sentMs = performance.now() - start
    }
    send().catch(reject)
  })

/**
 * The raw zeromq floor, a round at a time (PUB/SUB over loopback TCP, no drops). There are no
 * confirms, so there is no window: it is the floor of ZeroMQ transports at window 1 and window 100
 * alike.
 * @since 0.1.0
 * @category floors
 */
export const floor: ThroughputFloor = {
  transport: "zeromq",
  description: `raw zeromq ${libzmqVersion} PUB/SUB over tcp://127.0.0.1, two frames, no drops`,
  open: (config) =>
    Effect.map(
      openPair(Math.max(100_000, 2 * config.count)),
      (pair) => (messages) =>
        Effect.map(Effect.promise(() => sendAndReceive(pair, messages, () => {})), (run) => run.elapsedMs)
    )
}

/**
 * Raw zeromq latency at a fixed rate: messages are queued on schedule to one writer loop (the one
 * pending send zeromq.js allows) and timed from the moment they were handed over to delivery.
 * @since 0.1.0
 * @category scenarios
 */
export const latencyFloor: Scenario = {
  name: names.latency,
  description: "raw zeromq PUB/SUB send-to-delivery latency at a fixed rate",
  run: (context) =>
    Effect.gen(function*() {
      const { latencyRate, latencySeconds, warmup } = context.config
      const total = Math.round(latencyRate * latencySeconds)
      const pair = yield* openPair(Math.max(100_000, 2 * total))
      context.phase("warm-up")
      yield* Effect.promise(() => sendAndReceive(pair, makeMessages(warmup), context.progress))
      context.phase(`${latencyRate} msg/s for ${latencySeconds} s`)
      const messages = makeMessages(total, true)
      const recorder = new LatencyRecorder(total)
      pair.onDelivery = (body) => {
        recorder.delivered(decode(body).seq)
        context.progress(recorder.deliveredSoFar, total)
      }
      const pending: Array<Buffer> = []
      let writing = false
      let writeError: unknown = undefined
      const write = async () => {
        writing = true
        while (pending.length > 0) await pair.pub.send([TOPIC, pending.shift()!])
        writing = false
      }
      yield* Effect.promise(() =>
        paced(total, latencyRate, (seq) => {
          recorder.sent(seq)
          pending.push(encode(messages[seq]))
          if (!writing) {
            write().catch((error) => {
              writeError = error
            })
          }
        })
      )
      yield* Effect.promise(() => recorder.waitAll(5_000))
      if (writeError !== undefined) return yield* Effect.fail(writeError)
      const summary = recorder.summary()
      return {
        measurements: latency(names.latency, "zeromq", summary),
        details: { rate: latencyRate, seconds: latencySeconds, libzmq: libzmqVersion, ...summary }
      }
    })
}
