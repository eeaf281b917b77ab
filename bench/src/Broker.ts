/**
 * What the RabbitMQ broker itself says about a layer instance, for the fan-out and scale
 * scenarios: read with `rabbitmqctl` (the management plugin, and its per-exchange message
 * statistics, is not assumed), plus two independent counts taken next to it.
 *
 * - Publishes per group send: the bytes the broker received on the sender's connection
 *   (`rabbitmqctl list_connections recv_oct`, read live from the broker's socket) divided by the
 *   size of one AMQP publish of that body (method, header and body frames). Cross-checked by the
 *   `basic.publish` frames the sender's amqplib connection wrote, and by the messages the broker
 *   routed to an observer queue bound to the same group on the same exchange.
 * - Queues: the distinct queues the channel names route to (the part before `!`), each looked up
 *   with `rabbitmqctl list_queues`, and the group bindings of those queues (`list_bindings`).
 *
 * `rabbitmqctl` talks to the local node: these numbers need the broker of the URL to run here.
 * @since 0.1.0
 */
import amqp from "amqplib"
import type { ChannelModel } from "amqplib"
import { Effect } from "effect"
import type { Scope } from "effect"
import { execFile } from "node:child_process"
import { redactUrl } from "./floors/RawAmqp.js"

/**
 * The virtual host of an AMQP URL (`/` when the URL names none).
 * @since 0.1.0
 * @category utils
 */
export const vhostOf = (url: string): string => {
  const path = new URL(url).pathname
  return path.length > 1 ? decodeURIComponent(path.slice(1)) : "/"
}

/**
 * Runs `rabbitmqctl -q <args> --formatter json` and parses its output.
 * @since 0.1.0
 * @category rabbitmqctl
 */
export const rabbitmqctl = (args: ReadonlyArray<string>): Effect.Effect<unknown, Error> =>
  Effect.async<unknown, Error>((resume) => {
    const child = execFile(
      "rabbitmqctl",
      ["-q", ...args, "--formatter", "json"],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          resume(Effect.fail(new Error(`rabbitmqctl ${args[0]} failed: ${String(stderr).trim() || error.message}`)))
          return
        }
        try {
          resume(Effect.succeed(JSON.parse(stdout.trim() === "" ? "[]" : stdout)))
        } catch (cause) {
          resume(Effect.fail(new Error(`rabbitmqctl ${args[0]}: output is not JSON: ${String(cause)}`)))
        }
      }
    )
    return Effect.sync(() => child.kill())
  })

interface ConnectionRow {
  readonly recv_oct: number
  readonly client_properties: ReadonlyArray<readonly [string, string, unknown]>
}

/**
 * The bytes the broker has received on the connection whose `connection_name` client property is
 * `name` (the RabbitMQ layer names its connections `channel-layer <queue>`).
 * @since 0.1.0
 * @category rabbitmqctl
 */
export const receivedBytes = (vhost: string, name: string): Effect.Effect<number, Error> =>
  Effect.flatMap(
    rabbitmqctl(["list_connections", "-p", vhost, "recv_oct", "client_properties"]),
    (rows) => {
      const row = (rows as ReadonlyArray<ConnectionRow>).find((c) =>
        c.client_properties.some(([key, , value]) => key === "connection_name" && value === name)
      )
      return row === undefined
        ? Effect.fail(new Error(`rabbitmqctl lists no connection named ${JSON.stringify(name)} in vhost ${vhost}`))
        : Effect.succeed(row.recv_oct)
    }
  )

/**
 * The queues of a vhost with the given names, as the broker lists them.
 * @since 0.1.0
 * @category rabbitmqctl
 */
export const queuesNamed = (
  vhost: string,
  names: ReadonlySet<string>
): Effect.Effect<ReadonlyArray<{ readonly name: string; readonly messages: number }>, Error> =>
  Effect.map(
    rabbitmqctl(["list_queues", "-p", vhost, "name", "messages"]),
    (rows) =>
      (rows as ReadonlyArray<{ readonly name: string; readonly messages: number }>).filter((q) => names.has(q.name))
  )

/**
 * The bindings to one queue from a given exchange (its group bindings).
 * @since 0.1.0
 * @category rabbitmqctl
 */
export const bindingsTo = (
  vhost: string,
  exchange: string,
  queue: string
): Effect.Effect<number, Error> =>
  Effect.map(
    rabbitmqctl(["list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key"]),
    (rows) =>
      (rows as ReadonlyArray<{ readonly source_name: string; readonly destination_name: string }>).filter((b) =>
        b.source_name === exchange && b.destination_name === queue
      ).length
  )

const shortString = (s: string) => 1 + Buffer.byteLength(s)

/**
 * The bytes one `basic.publish` of a body puts on the wire, as amqplib writes it (no message
 * properties but its always-present empty `headers` table; a body below the frame size):
 * the method frame, the content header frame and one body frame, each with its 7-byte header and
 * its end byte.
 * @since 0.1.0
 * @category framing
 */
export const publishBytes = (exchange: string, routingKey: string, bodyBytes: number): number => {
  const frame = (payload: number) => 7 + payload + 1
  // class, method, reserved short, exchange, routing key, mandatory/immediate bits
  const method = frame(2 + 2 + 2 + shortString(exchange) + shortString(routingKey) + 1)
  // class, weight, body size, property flags, headers (an empty table: its 4-byte length)
  const header = frame(2 + 2 + 8 + 2 + 4)
  return method + header + frame(bodyBytes)
}

/**
 * Counts the `basic.publish` frames an amqplib connection writes (amqplib sends every publish
 * through its connection's `sendMessage`), until the scope closes.
 * @since 0.1.0
 * @category counting
 */
export const countPublishes = (
  model: ChannelModel
): Effect.Effect<{ readonly count: () => number }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const connection = model.connection as unknown as Record<string, unknown>
      const original = connection.sendMessage as (...args: Array<unknown>) => unknown
      let count = 0
      const wrapper = function(this: unknown, ...args: Array<unknown>) {
        count++
        return original.apply(this, args)
      }
      connection.sendMessage = wrapper
      return {
        count: () => count,
        restore: () => {
          // amqplib replaces it on a closed connection: leave that replacement alone.
          if (connection.sendMessage === wrapper) connection.sendMessage = original
        }
      }
    }),
    ({ restore }) => Effect.sync(restore)
  )

/**
 * A separate connection with an exclusive queue bound to `group` on `exchange`, counting what the
 * broker routes to it, until the scope closes.
 * @since 0.1.0
 * @category counting
 */
export const observeGroup = (
  url: string,
  exchange: string,
  group: string
): Effect.Effect<{ readonly count: () => number }, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const model = await amqp.connect(url, { noDelay: true })
        model.on("error", () => {})
        try {
          const channel = await model.createChannel()
          const { queue } = await channel.assertQueue("", { exclusive: true, durable: false, autoDelete: true })
          await channel.bindQueue(queue, exchange, group)
          let count = 0
          await channel.consume(queue, () => {
            count++
          }, { noAck: true })
          return { model, count: () => count }
        } catch (error) {
          await model.close().catch(() => {})
          throw error
        }
      },
      catch: (cause) => new Error(`cannot open the observer queue on ${redactUrl(url)}: ${String(cause)}`)
    }),
    ({ model }) => Effect.promise(() => model.close().catch(() => {}))
  )
