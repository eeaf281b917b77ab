/**
 * Small wrappers around the `rabbitmqctl` CLI, for tests that check what the transport declared
 * on the broker (queue arguments, bindings, exchanges) or that kick its connections.
 *
 * By default they talk to the node the plain `rabbitmqctl` on `PATH` talks to (the test broker on
 * 127.0.0.1:5672); set `RABBITMQCTL` to use another executable. Pass {@link CtlOptions} (for
 * example `node.ctl` of a node started with `startNode`) to target another node.
 *
 * Note on Debian's `/usr/sbin/rabbitmqctl`: run as root it re-runs itself through
 * `su rabbitmq -c "<quoted args>"`, so an argument containing `$` or a backquote is expanded by a
 * shell. Keep such characters out of queue names and reasons used with these helpers.
 */
import { Data, Effect, ParseResult, Schema } from "effect"
import { exec } from "./internal.js"

/** Which `rabbitmqctl` to run, against which node, with which environment. */
export interface CtlOptions {
  /** The executable (default: `$RABBITMQCTL`, else `rabbitmqctl` from `PATH`). */
  readonly command?: string | undefined
  /** Target node (`-n`); default: the CLI's own default node. */
  readonly node?: string | undefined
  /** Extra environment variables (merged over `process.env`), e.g. `HOME` for the Erlang cookie. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Milliseconds before the command is killed (default 30 000). */
  readonly timeoutMs?: number | undefined
}

/** `rabbitmqctl` could not be run, failed, timed out, or printed something unexpected. */
export class RabbitmqctlError extends Data.TaggedError("RabbitmqctlError")<{
  readonly reason: "Spawn" | "Timeout" | "Exit" | "Decode"
  readonly args: ReadonlyArray<string>
  readonly exitCode: number | null
  readonly output: string
  readonly message: string
}> {}

/** Runs `rabbitmqctl [-n node] ...args` and returns its standard output. */
export const run = (
  args: ReadonlyArray<string>,
  options: CtlOptions = {}
): Effect.Effect<string, RabbitmqctlError> => {
  const command = options.command ?? process.env.RABBITMQCTL ?? "rabbitmqctl"
  const fullArgs = options.node === undefined ? args : ["-n", options.node, ...args]
  return exec(command, fullArgs, {
    env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs ?? 30_000
  }).pipe(
    Effect.map(({ stdout }) => stdout),
    Effect.mapError((error) =>
      new RabbitmqctlError({
        reason: error.reason,
        args: fullArgs,
        exitCode: error.exitCode,
        output: `${error.stdout}${error.stderr}`,
        message: `rabbitmqctl: ${error.message}`
      })
    )
  )
}

const runJson = <A, I>(
  schema: Schema.Schema<A, I>,
  args: ReadonlyArray<string>,
  options: CtlOptions | undefined
): Effect.Effect<A, RabbitmqctlError> =>
  run(["-q", ...args, "--formatter", "json"], options).pipe(
    Effect.flatMap((stdout) =>
      Schema.decodeUnknown(Schema.parseJson(schema))(stdout.trim() === "" ? "[]" : stdout).pipe(
        Effect.mapError((error) =>
          new RabbitmqctlError({
            reason: "Decode",
            args,
            exitCode: 0,
            output: stdout,
            message: `rabbitmqctl ${args.join(" ")}: unexpected output: ${
              ParseResult.TreeFormatter.formatErrorSync(error)
            }\n${stdout.slice(0, 2000)}`
          })
        )
      )
    )
  )

/** An AMQP table as `rabbitmqctl --formatter json` prints it: `[name, type, value]` triples. */
const RawTable = Schema.Array(Schema.Tuple(Schema.String, Schema.String, Schema.Unknown))

/** Table entries keyed by name: their values and their AMQP field types. */
export interface Arguments {
  /** Values; nested tables become objects. Arrays are passed on as rabbitmqctl prints them (lossy). */
  readonly values: Readonly<Record<string, unknown>>
  /** AMQP field type of each entry as the broker stored it (`byte`, `signedint`, `long`, `longstr`...). */
  readonly types: Readonly<Record<string, string>>
}

const tableValues = (table: ReadonlyArray<readonly [string, string, unknown]>): Record<string, unknown> => {
  const values: Record<string, unknown> = {}
  for (const [name, type, value] of table) {
    values[name] = type === "table" && Schema.is(RawTable)(value) ? tableValues(value) : value
  }
  return values
}

const toArguments = (table: ReadonlyArray<readonly [string, string, unknown]>): Arguments => ({
  values: tableValues(table),
  types: Object.fromEntries(table.map(([name, type]) => [name, type]))
})

/** A queue as `list_queues` reports it. */
export interface QueueInfo {
  readonly name: string
  readonly arguments: Arguments
  readonly durable: boolean
  readonly autoDelete: boolean
  readonly exclusive: boolean
  /** Ready + unacknowledged messages (null when the broker does not know, e.g. queue down). */
  readonly messages: number | null
  readonly consumers: number | null
}

const Count = Schema.Union(Schema.Number, Schema.String, Schema.Null)
const toCount = (value: number | string | null | undefined): number | null => typeof value === "number" ? value : null

const QueueRow = Schema.Struct({
  name: Schema.String,
  arguments: RawTable,
  durable: Schema.Boolean,
  auto_delete: Schema.Boolean,
  // Quorum and stream queues, never exclusive, report "" here.
  exclusive: Schema.Union(Schema.Boolean, Schema.Literal("")),
  messages: Schema.optional(Count),
  consumers: Schema.optional(Count)
})

/** Every queue of `vhost`, with its arguments (`x-max-length`, `x-overflow`, `x-message-ttl`...). */
export const listQueues = (
  vhost: string,
  options?: CtlOptions
): Effect.Effect<ReadonlyArray<QueueInfo>, RabbitmqctlError> =>
  runJson(
    Schema.Array(QueueRow),
    ["list_queues", "-p", vhost, "name", "arguments", "durable", "auto_delete", "exclusive", "messages", "consumers"],
    options
  ).pipe(
    Effect.map((rows) =>
      rows.map((row) => ({
        name: row.name,
        arguments: toArguments(row.arguments),
        durable: row.durable,
        autoDelete: row.auto_delete,
        exclusive: row.exclusive === true,
        messages: toCount(row.messages),
        consumers: toCount(row.consumers)
      }))
    )
  )

/** A binding as `list_bindings` reports it (the default exchange's implicit bindings have `source` `""`). */
export interface BindingInfo {
  readonly source: string
  readonly sourceKind: string
  readonly destination: string
  readonly destinationKind: string
  readonly routingKey: string
  readonly arguments: Arguments
}

const BindingRow = Schema.Struct({
  source_name: Schema.String,
  source_kind: Schema.String,
  destination_name: Schema.String,
  destination_kind: Schema.String,
  routing_key: Schema.String,
  arguments: RawTable
})

/** Every binding of `vhost`. */
export const listBindings = (
  vhost: string,
  options?: CtlOptions
): Effect.Effect<ReadonlyArray<BindingInfo>, RabbitmqctlError> =>
  runJson(
    Schema.Array(BindingRow),
    [
      "list_bindings",
      "-p",
      vhost,
      "source_name",
      "source_kind",
      "destination_name",
      "destination_kind",
      "routing_key",
      "arguments"
    ],
    options
  ).pipe(
    Effect.map((rows) =>
      rows.map((row) => ({
        source: row.source_name,
        sourceKind: row.source_kind,
        destination: row.destination_name,
        destinationKind: row.destination_kind,
        routingKey: row.routing_key,
        arguments: toArguments(row.arguments)
      }))
    )
  )

/** An exchange as `list_exchanges` reports it. */
export interface ExchangeInfo {
  readonly name: string
  readonly type: string
  readonly durable: boolean
  readonly autoDelete: boolean
  readonly internal: boolean
  readonly arguments: Arguments
}

const ExchangeRow = Schema.Struct({
  name: Schema.String,
  type: Schema.String,
  durable: Schema.Boolean,
  auto_delete: Schema.Boolean,
  internal: Schema.Boolean,
  arguments: RawTable
})

/** Every exchange of `vhost`, including the built-in `amq.*` ones and the default exchange `""`. */
export const listExchanges = (
  vhost: string,
  options?: CtlOptions
): Effect.Effect<ReadonlyArray<ExchangeInfo>, RabbitmqctlError> =>
  runJson(
    Schema.Array(ExchangeRow),
    ["list_exchanges", "-p", vhost, "name", "type", "durable", "auto_delete", "internal", "arguments"],
    options
  ).pipe(
    Effect.map((rows) =>
      rows.map((row) => ({
        name: row.name,
        type: row.type,
        durable: row.durable,
        autoDelete: row.auto_delete,
        internal: row.internal,
        arguments: toArguments(row.arguments)
      }))
    )
  )

/** A client connection as `list_connections` reports it. */
export interface ConnectionInfo {
  /** `"<client ip>:<port> -> <broker ip>:<port>"`. */
  readonly name: string
  readonly vhost: string
  readonly user: string
  readonly state: string
  readonly peerPort: number | null
}

const ConnectionRow = Schema.Struct({
  name: Schema.String,
  vhost: Schema.String,
  user: Schema.String,
  state: Schema.String,
  peer_port: Schema.optional(Schema.Union(Schema.Number, Schema.String, Schema.Null))
})

/** Every client connection of the node (all vhosts). */
export const listConnections = (
  options?: CtlOptions
): Effect.Effect<ReadonlyArray<ConnectionInfo>, RabbitmqctlError> =>
  runJson(Schema.Array(ConnectionRow), ["list_connections", "name", "vhost", "user", "state", "peer_port"], options)
    .pipe(
      Effect.map((rows) =>
        rows.map((row) => ({
          name: row.name,
          vhost: row.vhost,
          user: row.user,
          state: row.state,
          peerPort: toCount(row.peer_port)
        }))
      )
    )

/** Options of {@link closeAllConnections}. */
export interface CloseAllOptions extends CtlOptions {
  /** Only the connections of this vhost (default: every vhost, `--global`). */
  readonly vhost?: string | undefined
}

/**
 * Closes client connections with a `connection.close` (320 CONNECTION_FORCED) carrying `reason`,
 * the way an operator would. The broker closes them asynchronously: the command can return a
 * moment before clients see the close.
 */
export const closeAllConnections = (
  reason: string,
  options: CloseAllOptions = {}
): Effect.Effect<void, RabbitmqctlError> =>
  run(
    options.vhost === undefined
      ? ["-q", "close_all_connections", "--global", reason]
      : ["-q", "close_all_connections", "-p", options.vhost, reason],
    options
  ).pipe(Effect.asVoid)

const VhostRow = Schema.Struct({ name: Schema.String })

/** Names of the node's vhosts. */
export const listVhosts = (options?: CtlOptions): Effect.Effect<ReadonlyArray<string>, RabbitmqctlError> =>
  runJson(Schema.Array(VhostRow), ["list_vhosts", "name"], options).pipe(
    Effect.map((rows) => rows.map((row) => row.name))
  )

/** Creates `vhost` if missing and gives `user` (default `guest`) every permission on it. */
export const ensureVhost = (
  vhost: string,
  options: CtlOptions & { readonly user?: string } = {}
): Effect.Effect<void, RabbitmqctlError> =>
  Effect.gen(function*() {
    const vhosts = yield* listVhosts(options)
    if (!vhosts.includes(vhost)) yield* run(["-q", "add_vhost", vhost], options)
    yield* run(["-q", "set_permissions", "-p", vhost, options.user ?? "guest", ".*", ".*", ".*"], options)
  })
