/**
 * The command line of `channel-layer-zmq-proxy`, on @effect/cli: its options, what it runs, how
 * it reports what went wrong, and the exit status of a run.
 *
 * @since 0.1.0
 */
import * as CommandLine from "@channel-layer/core/CommandLine"
import { CliConfig, Command, CommandDescriptor, HelpDoc, Options, Usage, ValidationError } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Console, Effect, Layer, Logger, LogLevel, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as ZeroMQ from "../ZeroMQ.js"
import * as ZeroMQProxy from "../ZeroMQProxy.js"

const name = "channel-layer-zmq-proxy"

const duration = (option: string, bareUnit: CommandLine.BareUnit, description: string) =>
  CommandLine.duration(option, bareUnit).pipe(Options.optional, Options.withDescription(description))

const count = (option: string, description: string) =>
  CommandLine.wholeNumber(option, 0).pipe(Options.optional, Options.withDescription(description))

const levels = LogLevel.allLevels.map((level) => [level._tag.toLowerCase(), level] as const)

/**
 * The keys of a key file: one per line, blank lines and `#` comments ignored.
 *
 * @since 0.1.0
 * @category parsing
 */
export const keysOf = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n/).map((line) => line.replace(/#.*$/, "").trim()).filter((line) => line.length > 0)

const keyFile = (option: string, description: string) =>
  Options.text(option).pipe(
    Options.withPseudoName("PATH"),
    Options.mapEffect((path) =>
      FileSystem.FileSystem.pipe(
        Effect.flatMap((fs) => fs.readFileString(path)),
        Effect.mapBoth({
          onFailure: (error) => CommandLine.invalid(option, `cannot read ${path}: ${error.message}`),
          onSuccess: (text) => ({ path, keys: keysOf(text) })
        })
      )
    ),
    Options.optional,
    Options.withDescription(description)
  )

/**
 * What a run of the proxy is given: its options, and the least severe log level written.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly _tag: "Run"
  readonly options: ZeroMQProxy.ProxyOptions
  readonly logLevel: LogLevel.LogLevel
}

const run: Options.Options<Run> = Options.all({
  pull: Options.text("pull").pipe(
    Options.withPseudoName("ENDPOINT"),
    Options.withDescription("bind the PULL socket, that layers push to, here (e.g. tcp://127.0.0.1:5557)")
  ),
  pub: Options.text("pub").pipe(
    Options.withPseudoName("ENDPOINT"),
    Options.withDescription(
      "bind the PUB socket, that layers subscribe to, here (e.g. tcp://127.0.0.1:5556). An address other " +
        "machines reach, without CURVE, lets anyone who connects read and send messages (a warning is logged at " +
        "start): bind 127.0.0.1, or set the CURVE keys"
    )
  ),
  secretKey: Options.text("curve-secret-key").pipe(
    Options.withPseudoName("Z85"),
    Options.optional,
    Options.withDescription(
      "CURVE: the proxy's secret key; layers set the matching public key as curve.serverPublicKey (it shows in ps: " +
        "prefer --curve-secret-key-file)"
    )
  ),
  secretKeyFile: keyFile("curve-secret-key-file", "CURVE: read the secret key from this file"),
  authorizedKeys: Options.text("curve-authorized-key").pipe(
    Options.withPseudoName("Z85"),
    Options.repeated,
    Options.withDescription("CURVE: accept only these client public keys (repeatable)")
  ),
  authorizedKeysFile: keyFile(
    "curve-authorized-keys-file",
    "CURVE: accept only the client public keys in this file, one per line (# starts a comment)"
  ),
  sendHighWaterMark: count("send-hwm", "PUB high-water mark per subscriber (default 10000)"),
  receiveHighWaterMark: count("receive-hwm", "PULL high-water mark (default 1000)"),
  holdTimeout: duration(
    "hold-timeout",
    "millis",
    "how long a direct message waits for its process to subscribe (default 5s; a bare number is milliseconds)"
  ),
  settle: duration(
    "settle",
    "millis",
    "how long to wait after start before forwarding, so that subscribers resubscribe after a restart " +
      "(default 500ms; a bare number is milliseconds)"
  ),
  statsInterval: duration(
    "stats-interval",
    "seconds",
    "log the forwarding counts this often (default 60s; a bare number is seconds)"
  ),
  logLevel: CommandLine.oneOf("log-level", levels).pipe(
    Options.withDefault(LogLevel.Info),
    Options.withDescription("the least severe log entries written to standard error (default info)")
  )
}).pipe(Options.mapEffect((args) => {
  const fail = (reason: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(reason)))
  if (Option.isSome(args.secretKey) && Option.isSome(args.secretKeyFile)) {
    return fail("give --curve-secret-key or --curve-secret-key-file, not both")
  }
  const secretKey = Option.orElse(
    args.secretKey,
    () => Option.flatMap(args.secretKeyFile, (file) => Option.fromNullable(file.keys[0]))
  )
  if (Option.isSome(args.secretKeyFile) && Option.isNone(secretKey)) {
    return fail(`--curve-secret-key-file: no key in ${args.secretKeyFile.value.path}`)
  }
  const authorizedKeys = [
    ...args.authorizedKeys,
    ...Option.match(args.authorizedKeysFile, { onNone: () => [], onSome: (file) => file.keys })
  ]
  const authorizing = args.authorizedKeys.length > 0 || Option.isSome(args.authorizedKeysFile)
  if (authorizing && Option.isNone(secretKey)) {
    return fail("--curve-authorized-key and --curve-authorized-keys-file need --curve-secret-key (or its file)")
  }
  const given = <A, B>(value: Option.Option<A>, f: (a: A) => B) =>
    Option.match(value, { onNone: () => ({}), onSome: f })
  return Effect.succeed<Run>({
    _tag: "Run",
    options: {
      pullAddress: args.pull,
      publishAddress: args.pub,
      ...given(secretKey, (key) => ({ curve: { secretKey: key, ...(authorizing ? { authorizedKeys } : {}) } })),
      ...given(args.sendHighWaterMark, (sendHighWaterMark) => ({ sendHighWaterMark })),
      ...given(args.receiveHighWaterMark, (receiveHighWaterMark) => ({ receiveHighWaterMark })),
      ...given(args.holdTimeout, (holdTimeout) => ({ holdTimeout })),
      ...given(args.settle, (settle) => ({ settle })),
      ...given(args.statsInterval, (statsInterval) => ({ statsInterval }))
    },
    logLevel: args.logLevel
  })
}))

// Only an alternative to the options above: when it is absent their error is the one printed.
const generateKeyPair = Options.boolean("generate-key-pair").pipe(
  Options.withDescription("print a new CURVE key pair as JSON and exit"),
  Options.mapEffect((given) =>
    given
      ? Effect.succeed({ _tag: "GenerateKeyPair" as const })
      : Effect.fail(ValidationError.invalidValue(HelpDoc.empty))
  )
)

/**
 * The options: a run of the proxy, or `--generate-key-pair`.
 *
 * @since 0.1.0
 * @category options
 */
export const options: Options.Options<Run | { readonly _tag: "GenerateKeyPair" }> = Options.orElse(
  run,
  generateKeyPair
)

/**
 * The `channel-layer-zmq-proxy` command: runs the proxy until SIGINT or SIGTERM, or prints a key pair.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  name,
  { what: options },
  ({ what }) =>
    what._tag === "GenerateKeyPair"
      ? Effect.flatMap(ZeroMQ.curveKeyPair, (pair) => Console.log(JSON.stringify(pair)))
      : ZeroMQProxy.run(what.options).pipe(Logger.withMinimumLogLevel(what.logLevel))
).pipe(
  Command.withDescription(
    "The proxy of the dedicated ZeroMQ channel layer: layers push to its PULL socket and subscribe to its PUB " +
      "socket. Stops cleanly on SIGINT or SIGTERM."
  )
)

/**
 * The help text of the command's options, as `--help` prints it after the usage, without colours.
 *
 * @since 0.1.0
 * @category usage
 */
export const usage: string = CommandLine.withoutColours(
  HelpDoc.toAnsiText(Command.getHelp(command, CliConfig.defaultConfig))
)

/**
 * What `run` needs on Node: the platform services of @effect/cli, its settings (no built-in options
 * in the help), and a logger writing logfmt lines to standard error, replacing the default one.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NodeContext.NodeContext | CliConfig.CliConfig> = Layer.mergeAll(
  NodeContext.layer,
  CliConfig.layer({ showBuiltIns: false }),
  CommandLine.layerLogger
)

const version = (): string => {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8")
  return Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({ version: Schema.String })))(text).version
}

const usageLines = (): string =>
  "Usage:\n" +
  Usage.enumerate(CommandDescriptor.getUsage(command.descriptor), CliConfig.defaultConfig)
    .map((span) => `  ${HelpDoc.toAnsiText(HelpDoc.p(span)).trim()}`)
    .join("\n") +
  `\nMore: ${name} --help`

/**
 * Runs the proxy's command line on the arguments after the program's name. A usage error has been
 * printed by @effect/cli on one line; the usage follows it. Any other failure is printed as
 * `channel-layer-zmq-proxy: <message>`.
 *
 * @since 0.1.0
 * @category running
 */
export const runCli = (args: ReadonlyArray<string>) =>
  Effect.suspend(() => Command.run(command, { name, version: version() })(["node", name, ...args])).pipe(
    CommandLine.reportFailure(name, usageLines)
  )

/**
 * The exit status of a run: 0 done (stopped by SIGINT or SIGTERM included), 2 a usage error, 1
 * any other failure.
 *
 * @since 0.1.0
 * @category running
 */
export const exitCode = CommandLine.exitCode

/**
 * Runs an effect with a console that drops the colours of @effect/cli's help and error text when
 * the stream is not a terminal.
 *
 * @since 0.1.0
 * @category running
 */
export const plainUnlessTerminal = CommandLine.plainUnlessTerminal
