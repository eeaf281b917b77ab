/**
 * What the RabbitMQ tests share: the broker URL, raw amqplib access and `rabbitmqctl` readings.
 */
import type { ChannelLayer, Errors } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import amqp from "amqplib"
import type { Channel } from "amqplib"
import type { Scope } from "effect"
import { Duration, Effect, FiberRef, HashSet, Logger, Schedule } from "effect"
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { goldenCases as coreGoldenCases } from "../../core/test/support/golden.js"
import type * as Connection from "../src/internal/connection.js"
import * as InternalLayer from "../src/internal/layer.js"

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

/** One line the layer logged. */
export interface LogLine {
  readonly level: string
  readonly message: string
}

/** A logger that keeps each line in `lines`. */
const keepIn = (lines: Array<LogLine>) =>
  Logger.make(({ logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    lines.push({ level: logLevel.label, message: parts.map(String).join(" ") })
  })

/**
 * Runs `make` (a layer instance, whose fibers inherit the loggers of the fiber that makes it) with
 * its log lines kept in `lines` instead of printed: the warnings of fault and back-pressure paths
 * are expected in these tests, and the ones that matter are asserted on.
 */
export const logsInto = <A, E, R>(make: Effect.Effect<A, E, R>, lines: Array<LogLine>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(
    make,
    FiberRef.currentLoggers,
    (loggers) => HashSet.add(HashSet.remove(loggers, Logger.defaultLogger), keepIn(lines))
  )

/** One layer instance made in the test's scope: the service, the connection access and what it logged. */
export interface Instance extends RabbitMQ.RabbitMQServices {
  readonly layer: ChannelLayer.ChannelLayerService
  /** Every line the instance logged (not printed; see `logsInto`). */
  readonly logs: ReadonlyArray<LogLine>
}

/** Makes a layer instance in the current scope (closed with it), on the test broker by default. */
export const instance = (
  options: RabbitMQ.RabbitMQOptions = {},
  hooks: Connection.Hooks = {}
): Effect.Effect<Instance, Errors.InvalidOptions, Scope.Scope> => {
  const logs: Array<LogLine> = []
  return Effect.map(
    logsInto(InternalLayer.make({ url, ...options }, hooks), logs),
    (services) => ({ ...services, layer: services.channelLayer, logs })
  )
}

/**
 * Keeps every log line for the rest of the scope, instead of printing it. Call it before making
 * the layer: the layer's fibers inherit the loggers of the fiber that made it.
 */
export const captureLogs = (): Effect.Effect<Array<LogLine>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    yield* Effect.locallyScopedWith(
      FiberRef.currentLoggers,
      (loggers) => HashSet.add(HashSet.remove(loggers, Logger.defaultLogger), keepIn(lines))
    )
    return lines
  })

/** An exchange declared by the test, deleted with the scope. */
export const scopedExchange = (name: string) =>
  Effect.acquireRelease(
    Effect.succeed(name),
    () =>
      Effect.promise(async () => {
        const model = await amqp.connect(url)
        model.on("error", () => {})
        const channel = await model.createChannel()
        channel.on("error", () => {})
        await channel.deleteExchange(name).catch(() => {})
        await model.close().catch(() => {})
      })
  )

/**
 * The Python layer's golden wire bytes, from core's fixture (one copy in the repository), with
 * each body as a Buffer for amqplib.
 */
export const goldenCases = () => coreGoldenCases().map((golden) => ({ ...golden, body: Buffer.from(golden.body) }))

/** Polls `check` every 10 ms until it holds; fails naming `what` after `timeout`. */
export const waitFor = (
  what: string,
  check: () => boolean,
  timeout: Duration.DurationInput = "10 seconds"
): Effect.Effect<void, Error> =>
  Effect.sync(check).pipe(
    Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (done) => done }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`timed out after ${Duration.format(Duration.decode(timeout))} waiting for ${what}`)
    }),
    Effect.asVoid
  )
