/**
 * What the RabbitMQ tests share: the broker URL, raw amqplib access and `rabbitmqctl` readings.
 */
import amqp from "amqplib"
import type { Channel, ChannelModel } from "amqplib"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { promisify } from "node:util"

/** The test broker (RabbitMQ on 127.0.0.1, vhost `asgi`). */
export const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672/asgi"

/** The test vhost. */
export const vhost = "asgi"

/** A unique name for a group, exchange or queue of one test. */
export const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/** A raw amqplib connection and channel, closed with the scope. */
export const rawChannel = Effect.acquireRelease(
  Effect.promise(async () => {
    const model = await amqp.connect(url, { noDelay: true })
    model.on("error", () => {})
    const channel = await model.createChannel()
    channel.on("error", () => {})
    return { model, channel }
  }),
  ({ model }) => Effect.promise(() => model.close().catch(() => {}))
)

/** A raw confirm channel, closed with the scope. */
export const rawConfirmChannel = Effect.acquireRelease(
  Effect.promise(async () => {
    const model = await amqp.connect(url, { noDelay: true })
    model.on("error", () => {})
    const channel = await model.createConfirmChannel()
    channel.on("error", () => {})
    return { model, channel }
  }),
  ({ model }) => Effect.promise(() => model.close().catch(() => {}))
)

/**
 * Consumes every body that arrives on a fresh exclusive queue bound to `exchange` with
 * `routingKey` (or, with exchange "", a queue of that name declared here).
 */
export const collect = (channel: Channel, queue: string) =>
  Effect.promise(async () => {
    const bodies: Array<Buffer> = []
    await channel.consume(queue, (message) => {
      if (message !== null) bodies.push(message.content)
    }, { noAck: true })
    return bodies
  })

const exec = promisify(execFile)

/** Runs `rabbitmqctl -q <args> --formatter json` and parses the output. */
export const rabbitmqctl = <A = unknown>(...args: Array<string>) =>
  Effect.promise(async () => {
    const { stdout } = await exec("rabbitmqctl", ["-q", ...args, "--formatter", "json"], {
      maxBuffer: 64 * 1024 * 1024
    })
    return JSON.parse(stdout) as A
  })

/** One row of `rabbitmqctl list_queues name arguments exclusive durable auto_delete`. */
export interface QueueRow {
  readonly name: string
  readonly arguments: ReadonlyArray<readonly [string, string, unknown]>
  readonly exclusive: boolean
  readonly durable: boolean
  readonly auto_delete: boolean
}

/** The broker's view of one queue, or undefined. */
export const queueInfo = (name: string) =>
  Effect.map(
    rabbitmqctl<Array<QueueRow>>(
      "list_queues",
      "-p",
      vhost,
      "name",
      "arguments",
      "exclusive",
      "durable",
      "auto_delete"
    ),
    (rows) => rows.find((row) => row.name === name)
  )

/** Routing keys binding `queue` to `exchange`. */
export const bindings = (exchange: string, queue: string) =>
  Effect.map(
    rabbitmqctl<Array<{ source_name: string; destination_name: string; routing_key: string }>>(
      "list_bindings",
      "-p",
      vhost,
      "source_name",
      "destination_name",
      "routing_key"
    ),
    (rows) =>
      rows.filter((row) => row.source_name === exchange && row.destination_name === queue).map((row) => row.routing_key)
        .sort()
  )

/** Does a model type-check as ChannelModel (keeps the import used). */
export type RawModel = ChannelModel
