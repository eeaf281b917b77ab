/**
 * The command line of `channel-layer`: commands, options and help texts. Parsing is pure (argv
 * and environment in, a command or a usage error out), so it is tested without a process.
 *
 * @since 0.1.0
 */
import { Duration, Either, Schema } from "effect"
import { parseArgs } from "node:util"

/**
 * The transports the CLI can use.
 *
 * @since 0.1.0
 * @category models
 */
export const transports = ["memory", "rabbitmq", "zeromq"] as const

/**
 * @since 0.1.0
 * @category models
 */
export type Transport = (typeof transports)[number]

/**
 * How to reach the channel layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions {
  readonly transport: Transport
  /** RabbitMQ broker URLs, tried in turn (`--url`, env `AMQP_URL`); empty: the layer's default. */
  readonly urls: ReadonlyArray<string>
  /** RabbitMQ groups exchange (`--groups-exchange`). */
  readonly groupsExchange: string | undefined
  /** ZeroMQ: the proxy's PULL address producers push to (`--zmq-push`, env `ZMQ_PUSH`). */
  readonly zmqPush: string | undefined
  /** ZeroMQ: the PUB address consumers subscribe to (`--zmq-sub`, env `ZMQ_SUB`). */
  readonly zmqSub: string | undefined
  /** ZeroMQ embedded: where to bind this process's PUB socket (`--zmq-publish`, env `ZMQ_PUBLISH`). */
  readonly zmqPublish: string | undefined
  /** ZeroMQ embedded: the PUB sockets to subscribe to (`--zmq-subscribe`, env `ZMQ_SUBSCRIBE`, comma-separated). */
  readonly zmqSubscribe: ReadonlyArray<string>
  /** How long to wait for the broker before failing with ConnectionClosed (`--wait`). */
  readonly wait: Duration.Duration | undefined
  /** Log the layer's info lines too (to standard error). */
  readonly verbose: boolean
}

/**
 * What the command line asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type Command =
  | { readonly _tag: "Help"; readonly command: CommandName | undefined }
  | {
    readonly _tag: "Send"
    readonly channel: string
    readonly message: string
    readonly options: TransportOptions
  }
  | {
    readonly _tag: "GroupSend"
    readonly group: string
    readonly message: string
    readonly options: TransportOptions
  }
  | {
    readonly _tag: "Listen"
    readonly groups: ReadonlyArray<string>
    readonly prefix: string | undefined
    readonly count: number | undefined
    readonly timeout: Duration.Duration | undefined
    readonly options: TransportOptions
  }
  | { readonly _tag: "SelfTest"; readonly options: TransportOptions }

/**
 * The command names.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandName = "send" | "group-send" | "listen" | "self-test"

const commandNames: ReadonlyArray<CommandName> = ["send", "group-send", "listen", "self-test"]

/**
 * A command line that does not make sense; `message` says why, and the CLI prints the help of
 * the command after it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: Schema.String,
  command: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.reason
  }
}

const transportHelp = `Transport options (every command):
  --layer memory|rabbitmq|zeromq  which channel layer (env CHANNEL_LAYER; default rabbitmq)
  --url URL                       RabbitMQ broker URL, repeat for failover
                                  (env AMQP_URL; default amqp://guest:guest@127.0.0.1/asgi).
                                  A password here shows in ps to every user: use AMQP_URL
  --groups-exchange NAME          RabbitMQ exchange for groups (default groups)
  --zmq-push ADDRESS              ZeroMQ dedicated: the proxy's PULL address (env ZMQ_PUSH)
  --zmq-sub ADDRESS               ZeroMQ dedicated: the proxy's PUB address (env ZMQ_SUB)
  --zmq-publish ADDRESS           ZeroMQ embedded: bind this process's PUB socket here
                                  (env ZMQ_PUBLISH; default tcp://127.0.0.1:*, a free port)
  --zmq-subscribe ADDRESS         ZeroMQ embedded: a peer's PUB socket, repeatable
                                  (env ZMQ_SUBSCRIBE, comma-separated). Peers hear this process
                                  only if they subscribe to its --zmq-publish address.
  --wait DURATION                 how long to wait for the broker (RabbitMQ; default 10 seconds)
  -v, --verbose                   log connection events to standard error
  -h, --help                      show help`

const messageHelp = `MESSAGE is a JSON object with a string "type", for example '{"type":"chat.message","text":"hi"}',
or - to read it from standard input. Bytes are written {"$bytes":"<base64>"} and integers beyond
2^53 {"$int":"<digits>"}, both ways.`

/**
 * The help text of the CLI, or of one command.
 *
 * @since 0.1.0
 * @category help
 */
export const help = (command?: CommandName): string => {
  switch (command) {
    case "send":
      return `Usage: channel-layer send CHANNEL MESSAGE [options]

Sends one message to one channel (a channel made by another process's newChannel, for example
what \`channel-layer listen\` prints). Fails with ChannelFull when the channel is at capacity.

${messageHelp}

${transportHelp}
`
    case "group-send":
      return `Usage: channel-layer group-send GROUP MESSAGE [options]

Sends one message to every channel in a group, in every process that shares the layer.

${messageHelp}

${transportHelp}
`
    case "listen":
      return `Usage: channel-layer listen [--group GROUP]... [options]

Makes a new channel, adds it to each GROUP, and prints every message that arrives as one line of
JSON on standard output. The channel's name goes to standard error first ("listening on ..."),
so other processes can send to it. Stops on Ctrl-C, leaving its groups.

Options:
  -g, --group GROUP     join this group (repeatable)
  --prefix PREFIX       prefix of the new channel's name (default: the layer's)
  -n, --count N         exit after N messages
  --timeout DURATION    exit after this long ("30 seconds", "500 millis"), with status 0

${transportHelp}
`
    case "self-test":
      return `Usage: channel-layer self-test [options]

Checks a layer end to end from one process: makes a channel, joins a group, sends a direct and a
group message to itself and receives both. Prints "self-test passed" or fails.

${transportHelp}
`
    default:
      return `Usage: channel-layer COMMAND [options]

Send to, and listen on, a channel layer (Django Channels' messaging, in TypeScript on Effect):
poke a running system, including a Django one on channels_rabbitmq.

Commands:
  send CHANNEL MESSAGE       send a message to a channel
  group-send GROUP MESSAGE   send a message to every member of a group
  listen [--group GROUP]...  make a channel, join groups, print what arrives
  self-test                  send to itself through the layer and check it arrives
  help [COMMAND]             show the help of a command

Examples:
  channel-layer listen --group chat_lobby
  channel-layer group-send chat_lobby '{"type":"chat.message","message":"hello"}'
  channel-layer self-test --layer memory

${transportHelp}
`
  }
}

/** A duration from the command line: "30 seconds", "500 millis", or a number of milliseconds. */
const duration = (text: string): Duration.Duration | undefined => {
  const decoded = Duration.decodeUnknown(/^\d+$/.test(text) ? Number(text) : text)
  return decoded._tag === "Some" ? decoded.value : undefined
}

const isCommandName = (name: string | undefined): name is CommandName => commandNames.includes(name as CommandName)

/**
 * Parses the arguments after the program name, with the environment for defaults.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {}
): Either.Either<Command, UsageError> => {
  const [first, ...rest] = argv
  if (first === undefined || first === "--help" || first === "-h") {
    return Either.right({ _tag: "Help", command: undefined })
  }
  if (first === "help") {
    const topic = rest[0]
    if (topic !== undefined && !isCommandName(topic)) {
      return Either.left(new UsageError({ reason: `unknown command ${JSON.stringify(topic)}` }))
    }
    return Either.right({ _tag: "Help", command: topic })
  }
  if (!isCommandName(first)) {
    return Either.left(new UsageError({ reason: `unknown command ${JSON.stringify(first)}` }))
  }
  const command = first
  const usage = (reason: string) => Either.left(new UsageError({ reason, command }))
  let parsed
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: {
        layer: { type: "string" },
        url: { type: "string", multiple: true },
        "groups-exchange": { type: "string" },
        "zmq-push": { type: "string" },
        "zmq-sub": { type: "string" },
        "zmq-publish": { type: "string" },
        "zmq-subscribe": { type: "string", multiple: true },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
        group: { type: "string", short: "g", multiple: true },
        prefix: { type: "string" },
        count: { type: "string", short: "n" },
        timeout: { type: "string" },
        wait: { type: "string" }
      }
    })
  } catch (error) {
    return usage((error as Error).message)
  }
  const { positionals, values } = parsed
  if (values.help) return Either.right({ _tag: "Help", command })

  const transport = values.layer ?? env.CHANNEL_LAYER ?? "rabbitmq"
  if (!(transports as ReadonlyArray<string>).includes(transport)) {
    return usage(`--layer must be one of ${transports.join(", ")}, got ${JSON.stringify(transport)}`)
  }
  const wait = values.wait === undefined ? undefined : duration(values.wait)
  if (values.wait !== undefined && wait === undefined) {
    return usage(`--wait must be a duration like "5 seconds" or a number of milliseconds, got ${values.wait}`)
  }
  const envUrls = env.AMQP_URL === undefined || env.AMQP_URL === "" ? [] : [env.AMQP_URL]
  const options: TransportOptions = {
    transport: transport as Transport,
    urls: values.url ?? envUrls,
    groupsExchange: values["groups-exchange"],
    zmqPush: values["zmq-push"] ?? env.ZMQ_PUSH,
    zmqSub: values["zmq-sub"] ?? env.ZMQ_SUB,
    zmqPublish: values["zmq-publish"] ?? env.ZMQ_PUBLISH,
    zmqSubscribe: values["zmq-subscribe"] ??
      (env.ZMQ_SUBSCRIBE ?? "").split(",").map((address) => address.trim()).filter((address) => address !== ""),
    wait,
    verbose: values.verbose ?? false
  }
  if (transport === "zeromq" && (options.zmqPush === undefined) !== (options.zmqSub === undefined)) {
    return usage("ZeroMQ's dedicated mode needs both --zmq-push and --zmq-sub (the proxy's PULL and PUB addresses)")
  }
  const listenOnly = (["group", "prefix", "count", "timeout"] as const).find((name) => values[name] !== undefined)
  if (command !== "listen" && listenOnly !== undefined) return usage(`--${listenOnly} is an option of listen only`)

  switch (command) {
    case "send":
    case "group-send": {
      if (positionals.length !== 2) {
        return usage(
          `${command} takes ${
            command === "send" ? "CHANNEL" : "GROUP"
          } and MESSAGE, got ${positionals.length} arguments`
        )
      }
      const [target, message] = positionals as [string, string]
      return Either.right(
        command === "send"
          ? { _tag: "Send", channel: target, message, options }
          : { _tag: "GroupSend", group: target, message, options }
      )
    }
    case "listen": {
      if (positionals.length > 0) return usage(`listen takes no arguments (use --group GROUP), got ${positionals[0]}`)
      let count: number | undefined = undefined
      if (values.count !== undefined) {
        count = Number(values.count)
        if (!Number.isSafeInteger(count) || count < 1) {
          return usage(`--count must be a positive integer, got ${values.count}`)
        }
      }
      const timeout = values.timeout === undefined ? undefined : duration(values.timeout)
      if (values.timeout !== undefined && timeout === undefined) {
        return usage(
          `--timeout must be a duration like "30 seconds" or a number of milliseconds, got ${values.timeout}`
        )
      }
      return Either.right({
        _tag: "Listen",
        groups: values.group ?? [],
        prefix: values.prefix,
        count,
        timeout,
        options
      })
    }
    case "self-test": {
      if (positionals.length > 0) return usage(`self-test takes no arguments, got ${positionals[0]}`)
      return Either.right({ _tag: "SelfTest", options })
    }
  }
}
