/**
 * The `channel-layer` program: parse the command line, build the layer it names, run the
 * command, and turn the outcome into an exit status (0 done, 1 failed, 2 bad usage).
 *
 * @since 0.1.0
 */
import { Cause, Effect, Either, Layer, Logger, LogLevel } from "effect"
import * as Args from "./Args.js"
import * as Commands from "./Commands.js"
import * as Transport from "./Transport.js"

const describe = (error: unknown): string =>
  error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)

/**
 * Runs the CLI on these arguments and environment; succeeds with the exit status.
 *
 * @since 0.1.0
 * @category program
 */
export const program = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<number, never, Commands.Output> =>
  Effect.gen(function*() {
    const output = yield* Commands.Output
    const parsed = Args.parse(argv, env)
    if (Either.isLeft(parsed)) {
      yield* output.err(`channel-layer: ${parsed.left.message}\n`)
      yield* output.err(Args.help(parsed.left.command as Args.CommandName | undefined))
      return 2
    }
    const command = parsed.right
    if (command._tag === "Help") {
      yield* output.out(Args.help(command.command))
      return 0
    }
    const logLevel = command.options.verbose ? LogLevel.Info : LogLevel.Warning
    return yield* Commands.run(command).pipe(
      Effect.provide(Transport.layer(command.options)),
      Effect.provide(Logger.minimumLogLevel(logLevel)),
      Effect.as(0),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.succeed(0)
          : Effect.as(
            output.err(`channel-layer: ${
              Cause.failureOption(cause).pipe((option) =>
                option._tag === "Some" ? describe(option.value) : Cause.pretty(cause)
              )
            }`),
            1
          )
      )
    )
  })

/**
 * The logger of the CLI: Effect's pretty logger on standard error, so standard output carries only
 * what the command prints.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLogger: Layer.Layer<never> = Logger.replace(
  Logger.defaultLogger,
  // The pretty logger writes by itself (stderr: true sends it to console.error); it returns nothing
  // for a wrapper such as withConsoleError to print.
  Logger.prettyLogger({ colors: false, stderr: true })
)
