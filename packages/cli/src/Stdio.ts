/**
 * The standard streams of the CLI. Standard output carries only what a command prints (`listen`'s
 * JSON lines, `self-test passed`, the help); standard error carries the log, one logfmt line per
 * entry, and the lines meant for people (`listening on ...`, errors). Help text is plain unless
 * written to a terminal.
 *
 * @since 0.1.0
 */
import { NodeStream } from "@effect/platform-node"
import { Console, Context, Effect, Logger, Stream } from "effect"

/**
 * All of standard input, read when a command is given `-` as its MESSAGE.
 *
 * @since 0.1.0
 * @category services
 */
export class Stdin extends Context.Reference<Stdin>()("@channel-layer/cli/Stdin", {
  defaultValue: (): { readonly readAll: Effect.Effect<string> } => ({
    readAll: NodeStream.stdin.pipe(Stream.decodeText(), Stream.mkString)
  })
}) {}

/**
 * The logger: Effect's logfmt lines, each written once, to standard error (through `Console.error`).
 * It replaces the default logger; run the program with `NodeRuntime.runMain({ disablePrettyLogger:
 * true })`, or runMain adds its pretty logger, which writes to standard output.
 *
 * @since 0.1.0
 * @category logging
 */
export const layerLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

// eslint-disable-next-line no-control-regex
const ansiEscapes = /\u001b\[[0-9;]*m/g

const plain = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => typeof arg === "string" ? arg.replace(ansiEscapes, "") : arg)

const colours = (stream: NodeJS.WriteStream) => stream.isTTY === true && process.env.NO_COLOR === undefined

/**
 * Runs an effect with a console that drops the colours of @effect/cli's help and error text when
 * the stream is not a terminal (or `NO_COLOR` is set), so that `--help | less` or a test reads
 * plain text.
 *
 * @since 0.1.0
 * @category console
 */
export const plainUnlessTerminal = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((console) => {
    const log = (...args: Array<unknown>) => console.unsafe.log(...(colours(process.stdout) ? args : plain(args)))
    const error = (...args: Array<unknown>) => console.unsafe.error(...(colours(process.stderr) ? args : plain(args)))
    return Effect.withConsole(effect, {
      ...console,
      log: (...args) => Effect.sync(() => log(...args)),
      error: (...args) => Effect.sync(() => error(...args)),
      unsafe: { ...console.unsafe, log, error }
    })
  })
