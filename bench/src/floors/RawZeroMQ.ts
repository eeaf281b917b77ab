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
import type { Scope } from "effect"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { Publisher, Push, Subscriber, version as libzmqVersion } from "zeromq"
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
  latency: "floor-zmq-latency",
  forwardedLatency: "floor-zmq-forwarder-latency"
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
  /** Sends one message (zeromq.js allows one pending send: await each). */
  readonly send: (frames: Array<Buffer>) => Promise<void>
  readonly endpoint: string
  readonly probes: number
  onDelivery: (body: Buffer) => void
}

const closeSockets = (pub: Writable & { close(): void }, sub: Subscriber) => {
  if (!sub.closed) sub.close()
  if (!pub.closed) pub.close()
}

/** A socket that sends: the PUB of the direct pair, or the PUSH of the forwarded one. */
interface Writable {
  readonly closed: boolean
  send(frames: Array<Buffer>): Promise<void>
}

/**
 * Connects `sub` (already connected to where messages come from) and waits, sending probes on
 * `out`, until one arrives: from then on the subscription is live. Starts the one reader loop.
 */
const live = async (out: Writable, sub: Subscriber, endpoint: string): Promise<ZmqPair> => {
  sub.subscribe(TOPIC)
  let arrived = false
  let probes = 0
  const pair: ZmqPair = {
    send: (frames) => out.send(frames),
    endpoint,
    get probes() {
      return probes
    },
    onDelivery: () => {}
  }
  const reader = async () => {
    while (!sub.closed) {
      const [, body] = await sub.receive()
      if (body.length === 0) arrived = true
      else pair.onDelivery(body)
    }
  }
  reader().catch(() => {}) // rejected when the socket closes: the end of the loop
  const deadline = performance.now() + 5_000
  while (!arrived) {
    if (performance.now() > deadline) throw new Error(`no probe arrived through ${endpoint} within 5 s`)
    await out.send([TOPIC, PROBE])
    probes++
    await sleep(5)
  }
  return pair
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
      try: async () => {
        const pub = new Publisher({ sendHighWaterMark: highWaterMark, noDrop: true, linger: 0 })
        const sub = new Subscriber({ receiveHighWaterMark: highWaterMark, linger: 0 })
        try {
          await pub.bind("tcp://127.0.0.1:*")
          const endpoint = pub.lastEndpoint
          if (endpoint === null) throw new Error("the PUB socket has no endpoint after bind")
          sub.connect(endpoint)
          return { pair: await live(pub, sub, endpoint), close: () => closeSockets(pub, sub) }
        } catch (error) {
          closeSockets(pub, sub)
          throw error
        }
      },
      catch: (cause) => new Error(`cannot open the zeromq floor sockets: ${String(cause)}`, { cause })
    }),
    (opened) => Effect.sync(opened.close)
  ).pipe(Effect.map((opened) => opened.pair))

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
      for (let i = 0; i < n; i++) await pair.send([TOPIC, encode(messages[i])])
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
 * A latency floor at a fixed rate over the pair `open` makes: messages are queued on schedule to
 * one writer loop (the one pending send zeromq.js allows) and timed from the moment they were
 * handed over to delivery.
 */
const latencyScenario = (
  name: string,
  description: string,
  open: (highWaterMark: number) => Effect.Effect<ZmqPair, Error, Scope.Scope>
): Scenario => ({
  name,
  description,
  run: (context) =>
    Effect.gen(function*() {
      const { latencyRate, latencySeconds, warmup } = context.config
      const total = Math.round(latencyRate * latencySeconds)
      const pair = yield* open(Math.max(100_000, 2 * total))
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
        while (pending.length > 0) await pair.send([TOPIC, pending.shift()!])
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
        measurements: latency(name, "zeromq", summary),
        details: { rate: latencyRate, seconds: latencySeconds, libzmq: libzmqVersion, ...summary }
      }
    })
})

/**
 * Raw zeromq latency at a fixed rate, PUB to SUB directly.
 * @since 0.1.0
 * @category scenarios
 */
export const latencyFloor: Scenario = latencyScenario(
  names.latency,
  "raw zeromq PUB/SUB send-to-delivery latency at a fixed rate",
  openPair
)

/** The plain forwarder's script (see the file): plain JavaScript, run by node itself. */
const forwarderScript = fileURLToPath(new URL("./zmq-forwarder.mjs", import.meta.url))

/**
 * Starts the plain forwarder as a child process; resolves with its two endpoints. It exits when
 * the scope closes (its stdin ends, and it is killed should that not do).
 */
const startForwarder = Effect.acquireRelease(
  Effect.async<{ readonly child: ChildProcess; readonly pull: string; readonly pub: string }, Error>((resume) => {
    const child = spawn(process.execPath, [forwarderScript], { stdio: ["pipe", "pipe", "inherit"] })
    let output = ""
    const failed = (reason: string) => resume(Effect.fail(new Error(`the zeromq forwarder did not start: ${reason}`)))
    child.once("error", (error) => failed(String(error)))
    child.once("exit", (code) => failed(`it exited with code ${code}`))
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
      const newline = output.indexOf("\n")
      if (newline === -1) return
      const endpoints = JSON.parse(output.slice(0, newline)) as { pull: string; pub: string }
      child.removeAllListeners("exit")
      resume(Effect.succeed({ child, ...endpoints }))
    })
    return Effect.sync(() => child.kill())
  }),
  ({ child }) =>
    Effect.sync(() => {
      child.stdin?.end()
      setTimeout(() => child.kill(), 1_000).unref()
    })
)

/**
 * A PUSH socket connected to the plain forwarder's PULL, a SUB socket to its XPUB, with a live
 * subscription: the path of the dedicated transport (client, forwarding process, client) with
 * nothing of ours on it.
 * @since 0.2.0
 * @category resources
 */
export const openForwarded = (highWaterMark: number): Effect.Effect<ZmqPair, Error, Scope.Scope> =>
  Effect.flatMap(startForwarder, (forwarder) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const push = new Push({ sendHighWaterMark: highWaterMark, linger: 0 })
          const sub = new Subscriber({ receiveHighWaterMark: highWaterMark, linger: 0 })
          try {
            push.connect(forwarder.pull)
            sub.connect(forwarder.pub)
            return { pair: await live(push, sub, forwarder.pub), close: () => closeSockets(push, sub) }
          } catch (error) {
            closeSockets(push, sub)
            throw error
          }
        },
        catch: (cause) => new Error(`cannot open the zeromq forwarder floor sockets: ${String(cause)}`, { cause })
      }),
      (opened) => Effect.sync(opened.close)
    ).pipe(Effect.map((opened) => opened.pair)))

/**
 * Raw zeromq latency at a fixed rate through a plain forwarder in its own process (PUSH to its
 * PULL, its XPUB to SUB): what the dedicated transport's proxy is measured against.
 * @since 0.2.0
 * @category scenarios
 */
export const forwardedLatencyFloor: Scenario = latencyScenario(
  names.forwardedLatency,
  "raw zeromq send-to-delivery latency at a fixed rate through a plain PULL-to-XPUB forwarder process",
  openForwarded
)
