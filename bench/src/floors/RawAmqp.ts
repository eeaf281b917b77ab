/**
 * The RabbitMQ floors: what amqplib alone does on this machine and broker.
 *
 * One connection publishes with a ConfirmChannel to the default exchange, routing key = an
 * exclusive, non-durable queue declared by a second connection, which consumes it with prefetch
 * 100 and one manual ack per message. Both sockets have `noDelay: true`. Each message is
 * msgpack-encoded at publish and decoded at delivery, as any layer must.
 * @since 0.1.0
 */
import amqp from "amqplib"
import type { Channel, ChannelModel, ConfirmChannel } from "amqplib"
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import type { BenchMessage } from "../Message.js"
import { decode, encode, makeMessages } from "../Message.js"
import type { Scenario, ThroughputFloor } from "../Scenario.js"
import { latency } from "../Scenario.js"
import { LatencyRecorder, paced } from "../Stats.js"

/**
 * Scenario name of the RabbitMQ latency floor (the throughput floor runs inside the transport's
 * scenarios, see {@link floor}).
 * @since 0.1.0
 * @category names
 */
export const names = {
  latency: "floor-amqp-latency"
} as const

/**
 * Timed rounds of the RabbitMQ point-to-point runs, each next to a round of the floor. A round at
 * window 1 takes about 3 s, and its ratio to the floor's round next to it moved between 0.64 and
 * 0.99 within one run (the broker and the machine drift); the median of 5 holds still better than
 * that of 3.
 * @since 0.1.0
 * @category constants
 */
export const rounds = 5

/**
 * Consumer prefetch of the floors (the layer's default `localCapacity`).
 * @since 0.1.0
 * @category constants
 */
export const prefetch = 100

/**
 * Two connections and the queue between them. `onDelivery` is swapped per run.
 * @since 0.1.0
 * @category models
 */
export interface AmqpPair {
  readonly publisher: ChannelModel
  readonly confirm: ConfirmChannel
  readonly consumer: ChannelModel
  readonly channel: Channel
  readonly queue: string
  readonly serverVersion: string
  onDelivery: (body: Buffer) => void
}

/**
 * The URL without its password, for messages and the JSON file.
 * @since 0.1.0
 * @category utils
 */
export const redactUrl = (url: string): string => url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, "$1:***@")

const ignore = () => {}

const closeQuietly = (model: ChannelModel) => model.close().catch(ignore)

/**
 * Opens the publisher and the consumer connections and the exclusive queue; closes both when the
 * scope ends. `x-max-length` is far above the message count, with `reject-publish`, so a nack
 * would show in the details instead of a silent drop.
 * @since 0.1.0
 * @category resources
 */
export const openPair = (url: string, maxLength: number) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async (): Promise<AmqpPair> => {
        const publisher = await amqp.connect(url, { noDelay: true })
        publisher.on("error", ignore)
        const consumer = await amqp.connect(url, { noDelay: true }).catch(async (error) => {
          await closeQuietly(publisher)
          throw error
        })
        consumer.on("error", ignore)
        try {
          const channel = await consumer.createChannel()
          const { queue } = await channel.assertQueue("", {
            exclusive: true,
            durable: false,
            autoDelete: true,
            arguments: { "x-max-length": maxLength, "x-overflow": "reject-publish" }
          })
          await channel.prefetch(prefetch)
          const confirm = await publisher.createConfirmChannel()
          const pair: AmqpPair = {
            publisher,
            confirm,
            consumer,
            channel,
            queue,
            serverVersion: String(publisher.connection.serverProperties.version ?? "unknown"),
            onDelivery: ignore
          }
          await channel.consume(queue, (message) => {
            if (message === null) return
            channel.ack(message)
            pair.onDelivery(message.content)
          }, { noAck: false })
          return pair
        } catch (error) {
          await closeQuietly(consumer)
          await closeQuietly(publisher)
          throw error
        }
      },
      catch: (cause) =>
        new Error(`cannot open the amqplib floor connections on ${redactUrl(url)}: ${String(cause)}`, { cause })
    }),
    (pair) => Effect.promise(() => Promise.all([closeQuietly(pair.publisher), closeQuietly(pair.consumer)]))
  )

/**
 * What one throughput run measured.
 * @since 0.1.0
 * @category models
 */
export interface ThroughputRun {
  /** First publish to last delivery (or to the last confirm, if that came later). */
  readonly elapsedMs: number
  /** First publish to last confirm. */
  readonly confirmedMs: number
  readonly delivered: number
  readonly nacks: number
}

/**
 * Publishes `messages` keeping at most `window` unconfirmed publishes in flight (window 1: each
 * publish waits for the previous confirm), and resolves once every message was confirmed and
 * every acknowledged one delivered.
 * @since 0.1.0
 * @category runs
 */
export const publishAndConsume = (
  pair: AmqpPair,
  messages: ReadonlyArray<BenchMessage>,
  window: number,
  progress: (done: number, total: number) => void
): Promise<ThroughputRun> =>
  new Promise((resolve) => {
    const n = messages.length
    const { confirm, queue } = pair
    let next = 0
    let inFlight = 0
    let confirmed = 0
    let nacks = 0
    let delivered = 0
    let waitingDrain = false
    let confirmedAt = 0
    let lastDeliveryAt = 0
    const start = performance.now()
    const finishIfDone = () => {
      if (confirmed === n && delivered === n - nacks) {
        resolve({
          elapsedMs: Math.max(lastDeliveryAt, confirmedAt) - start,
          confirmedMs: confirmedAt - start,
          delivered,
          nacks
        })
      }
    }
    pair.onDelivery = (body) => {
      decode(body)
      delivered++
      lastDeliveryAt = performance.now()
      progress(delivered, n)
      finishIfDone()
    }
    const onConfirm = (error: unknown) => {
      inFlight--
      confirmed++
      if (error) nacks++
      if (confirmed === n) {
        confirmedAt = performance.now()
        finishIfDone()
      } else if (!waitingDrain) {
        pump()
      }
    }
    const onDrain = () => {
      waitingDrain = false
      pump()
    }
    const pump = () => {
      while (inFlight < window && next < n) {
        inFlight++
        const writable = confirm.sendToQueue(queue, encode(messages[next++]), {}, onConfirm)
        if (!writable) {
          waitingDrain = true
          confirm.once("drain", onDrain)
          return
        }
      }
    }
    pump()
  })

/**
 * The raw amqplib floor, a round at a time: a ConfirmChannel publishing with `window` publishes in
 * flight (1: each awaits its confirm; 100: pipelined confirms) to an exclusive queue that a second
 * connection consumes with prefetch 100 and acks. A round with a nack fails: the queue's length
 * limit sits far above a round, so a nack means the floor did not move every message.
 * @since 0.1.0
 * @category floors
 */
export const floor: ThroughputFloor = {
  transport: "amqplib",
  description: `raw amqplib, ConfirmChannel, prefetch ${prefetch}, manual acks`,
  open: (config) =>
    Effect.map(
      openPair(config.amqpUrl, Math.max(100_000, 2 * config.count)),
      (pair) => (messages, window) =>
        Effect.flatMap(
          Effect.promise(() => publishAndConsume(pair, messages, window, () => {})),
          (run) =>
            run.nacks > 0
              ? Effect.fail(new Error(`the amqplib floor got ${run.nacks} nacks in a round of ${messages.length}`))
              : Effect.succeed(run.elapsedMs)
        )
    )
}

/**
 * Raw amqplib latency at a fixed rate: each message is published on schedule (confirms pipelined,
 * window irrelevant) and timed from the publish call to its delivery.
 * @since 0.1.0
 * @category scenarios
 */
export const latencyFloor: Scenario = {
  name: names.latency,
  description: "raw amqplib send-to-delivery latency at a fixed rate, confirms pipelined",
  run: (context) =>
    Effect.gen(function*() {
      const { amqpUrl, latencyRate, latencySeconds, warmup } = context.config
      const total = Math.round(latencyRate * latencySeconds)
      const pair = yield* openPair(amqpUrl, Math.max(100_000, 2 * total))
      context.phase("warm-up")
      yield* Effect.promise(() => publishAndConsume(pair, makeMessages(warmup), 100, context.progress))
      context.phase(`${latencyRate} msg/s for ${latencySeconds} s`)
      const messages = makeMessages(total, true)
      const recorder = new LatencyRecorder(total)
      let nacks = 0
      const onConfirm = (error: unknown) => {
        if (error) nacks++
      }
      pair.onDelivery = (body) => {
        recorder.delivered(decode(body).seq)
        context.progress(recorder.deliveredSoFar, total)
      }
      yield* Effect.promise(() =>
        paced(total, latencyRate, (seq) => {
          recorder.sent(seq)
          pair.confirm.sendToQueue(pair.queue, encode(messages[seq]), {}, onConfirm)
        })
      )
      yield* Effect.promise(() => recorder.waitAll(5_000))
      const summary = recorder.summary()
      return {
        measurements: latency(names.latency, "amqplib", summary),
        details: { rate: latencyRate, seconds: latencySeconds, nacks, rabbitmq: pair.serverVersion, ...summary }
      }
    })
}
