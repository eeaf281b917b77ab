/**
 * The command line of `channel-layer`, on @effect/cli: the commands, their arguments and options,
 * and `run`, which parses the arguments, runs the command with the layer it names, and says what
 * went wrong. `exitCode` turns the outcome into the process's exit status.
 *
 * @since 0.1.0
 */
import type { ChannelLayer } from "@channel-layer/core"
import * as CommandLine from "@channel-layer/core/CommandLine"
import { Args, CliConfig, Command, CommandDescriptor, HelpDoc, Options, Usage, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect, FiberRef, Layer, Logger, LogLevel, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as Commands from "./Commands.js"
import * as Transport from "./Transport.js"

const name = "channel-layer"

const common = {
  transport: Transport.options,
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription("log the layer's connection events too (--log-level info)")
  ),
  // @effect/cli takes --log-level by itself only before a command's other options; this takes it anywhere.
  logLevel: CommandLine.oneOf(
    "log-level",
    LogLevel.allLevels.map((level) => [level._tag.toLowerCase(), level] as const)
  )
    .pipe(
      Options.optional,
      Options.withDescription("the least severe log entries written to standard error (default warning)")
    )
}

/** Runs a command on the layer its options name, at the log level they ask for. */
const onLayer = <A, E>(
  options: {
    readonly transport: Transport.TransportOptions
    readonly verbose: boolean
    readonly logLevel: Option.Option<LogLevel.LogLevel>
  },
  command: Effect.Effect<A, E, ChannelLayer.ChannelLayer>
) =>
  command.pipe(
    Effect.provide(Transport.layer(options.transport)),
    Effect.locallyWith(FiberRef.currentMinimumLogLevel, (level) =>
      Option.getOrElse(
        options.logLevel,
        () => options.verbose && LogLevel.greaterThan(level, LogLevel.Info) ? LogLevel.Info : level
      ))
  )

const message = Args.text({ name: "MESSAGE" }).pipe(
  Args.withDescription(
    "a JSON object with a string \"type\", e.g. '{\"type\":\"chat.message\",\"text\":\"hi\"}', or - to read it " +
      "from standard input. Bytes are written {\"$bytes\":\"<base64>\"}, integers beyond 2^53 " +
      "{\"$int\":\"<digits>\"}, NaN, infinities and -0 {\"$float\":\"NaN\"}, both ways"
  )
)

const send = Command.make(
  "send",
  { channel: Args.text({ name: "CHANNEL" }), message, ...common },
  (args) => onLayer(args, Commands.send(args.channel, args.message))
).pipe(Command.withDescription(
  "Sends one message to one channel (a channel another process made, such as the one `listen` prints). " +
    "Fails with ChannelFull when the channel is at capacity."
))

const groupSend = Command.make(
  "group-send",
  { group: Args.text({ name: "GROUP" }), message, ...common },
  (args) => onLayer(args, Commands.groupSend(args.group, args.message))
).pipe(Command.withDescription(
  "Sends one message to every channel in a group, in every process that shares the layer."
))

const listen = Command.make(
  "listen",
  {
    groups: Options.text("group").pipe(
      Options.withAlias("g"),
      Options.withPseudoName("GROUP"),
      Options.repeated,
      Options.withDescription("join this group (repeatable)")
    ),
    prefix: Options.text("prefix").pipe(
      Options.withPseudoName("PREFIX"),
      Options.optional,
      Options.withDescription("prefix of the new channel's name (default: the layer's)")
    ),
    count: CommandLine.wholeNumber("count").pipe(
      Options.withAlias("n"),
      Options.optional,
      Options.withDescription("exit after N messages")
    ),
    timeout: CommandLine.duration("timeout").pipe(
      Options.optional,
      Options.withDescription(`exit after this long, with status 0: ${CommandLine.durationSyntax()}`)
    ),
    ...common
  },
  (args) => onLayer(args, Commands.listen(args))
).pipe(Command.withDescription(
  "Makes a new channel, adds it to each GROUP, and prints every message that arrives as one line of JSON " +
    "on standard output. The channel's name goes to standard error first (\"listening on ...\"), so other " +
    "processes can send to it. Stops after N messages, after the timeout, or on Ctrl-C or SIGTERM, leaving " +
    "its groups."
))

const selfTest = Command.make("self-test", common, (args) => onLayer(args, Commands.selfTest)).pipe(
  Command.withDescription(
    "Checks a layer end to end from one process: makes a channel, joins a group, sends a direct and a group " +
      "message to itself and receives both. Prints \"self-test passed\" or fails."
  )
)

const commands = { send, "group-send": groupSend, listen, "self-test": selfTest }
const commandNames = Object.keys(commands) as Array<keyof typeof commands>
const descriptor = (command: { readonly descriptor: CommandDescriptor.Command<unknown> }) => command.descriptor

const help = Command.make(
  "help",
  { command: Args.choice(commandNames.map((name) => [name, name] as const), { name: "COMMAND" }).pipe(Args.optional) },
  // @effect/cli prints the help of the command a handler asks for this way.
  ({ command: named }): Effect.Effect<void, ValidationError.ValidationError> =>
    Effect.suspend(() =>
      Effect.fail(ValidationError.helpRequested(
        descriptor(Option.match(named, { onNone: () => command, onSome: (name) => commands[name] }))
      ))
    )
).pipe(Command.withDescription("Shows the help of a command."))

/**
 * The `channel-layer` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(name).pipe(
  Command.withDescription(
    "Send to, and listen on, a channel layer (Django Channels' messaging, in TypeScript on Effect): poke a " +
      "running system, a Django one on channels_rabbitmq or channels_redis included. `channel-layer COMMAND --help` shows a " +
      "command's options."
  ),
  Command.withSubcommands([send, groupSend, listen, selfTest, help])
)

const version = (): string => {
  const text = readFileSync(new URL("../package.json", import.meta.url), "utf8")
  return Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({ version: Schema.String })))(text).version
}

/** @effect/cli's parser on the arguments after the program's name. */
const cli = (args: ReadonlyArray<string>) =>
  Effect.suspend(() => Command.run(command, { name, version: version() })(["node", name, ...args]))

/**
 * What `run` needs on Node: the platform services of @effect/cli, its settings (no built-in options
 * such as `--completions` or `--wizard` in every command's help), and the logger on standard error.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NodeContext.NodeContext | CliConfig.CliConfig> = Layer.mergeAll(
  NodeContext.layer,
  CliConfig.layer({ showBuiltIns: false }),
  CommandLine.layerLogger
)

const isCommandName = (arg: string | undefined): arg is keyof typeof commands =>
  arg !== undefined && Object.hasOwn(commands, arg)

/** The usage of the command the arguments name, or of every command. */
const usage = (args: ReadonlyArray<string>): string => {
  const named = isCommandName(args[0]) ? args[0] : undefined
  const lines = (named === undefined ? [...Object.values(commands), help] : [commands[named]])
    .flatMap((command) => Usage.enumerate(CommandDescriptor.getUsage(descriptor(command)), CliConfig.defaultConfig))
    .map((span) => `  ${name} ${HelpDoc.toAnsiText(HelpDoc.p(span)).trim()}`)
  return `Usage:\n${lines.join("\n")}\nMore: ${name}${named === undefined ? "" : ` ${named}`} --help`
}

/**
 * Runs the CLI on the arguments after the program's name. A usage error (a `ValidationError`) has
 * been printed by @effect/cli on one line; `run` adds the command's usage after it. Any other
 * failure is printed as `channel-layer: <message>`. Logs below warning are dropped unless `-v` or
 * `--log-level` asks for them.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (args: ReadonlyArray<string>) =>
  cli(args).pipe(
    CommandLine.reportFailure(name, () => usage(args)),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )

/**
 * The exit status of a run: 0 done (interrupted by SIGINT or SIGTERM included), 2 a usage error,
 * 1 any other failure.
 *
 * @since 0.1.0
 * @category running
 */
export const exitCode = CommandLine.exitCode
