/**
 * What the project's command-line programs (`channel-layer`, `channel-layer-zmq-proxy`) share on
 * `@effect/cli`: option values read with a usage error that names the option and says what it
 * accepts, one logger writing logfmt lines to standard error, help text without colours unless
 * written to a terminal, how failures are reported and the exit status of a run. Import it from
 * `@channel-layer/core/CommandLine` (kept out of the main entry point: it needs `@effect/cli`).
 *
 * @since 0.1.0
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Cause, Console, Duration, Effect, Either, Exit, Logger, Option } from "effect"

/**
 * A usage error for `--option`.
 *
 * @since 0.1.0
 * @category options
 */
export const invalid = (option: string, reason: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(`--${option}: ${reason}`))

const shortUnits: Record<string, (amount: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours
}

/**
 * The unit of a bare number in a duration option: what the option took before it took units.
 *
 * @since 0.1.0
 * @category options
 */
export type BareUnit = "millis" | "seconds"

/**
 * What a duration may look like, for error messages and help.
 *
 * @since 0.1.0
 * @category options
 */
export const durationSyntax = (bareUnit: BareUnit = "millis"): string =>
  `500ms, 2s, 1m, 1h, "2 seconds", "500 millis" or a number of ${bareUnit === "millis" ? "milliseconds" : "seconds"}`

/**
 * Reads a duration: `500ms`, `2s`, `1m`, `1h`, Effect's `2 seconds` or `500 millis`, or a bare
 * number in `bareUnit`. `Left` says what is accepted.
 *
 * @since 0.1.0
 * @category options
 */
export const parseDuration = (
  text: string,
  bareUnit: BareUnit = "millis"
): Either.Either<Duration.Duration, string> => {
  const trimmed = text.trim()
  const short = /^(\d+(?:\.\d+)?) ?(ms|s|m|h)$/.exec(trimmed)
  if (short !== null) return Either.right(shortUnits[short[2]!]!(Number(short[1])))
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) {
    return Either.right(bareUnit === "millis" ? Duration.millis(Number(trimmed)) : Duration.seconds(Number(trimmed)))
  }
  // Effect's "2 seconds", "500 millis", "1 minute" (and nanos, micros, hours, days, weeks).
  const long = /^\d/.test(trimmed) ? Duration.decodeUnknown(trimmed) : Option.none()
  return Option.match(long, {
    onNone: () => Either.left(`${JSON.stringify(text)} is not a duration: write ${durationSyntax(bareUnit)}`),
    onSome: Either.right
  })
}

/**
 * `--option DURATION`, read with {@link parseDuration}.
 *
 * @since 0.1.0
 * @category options
 */
export const duration = (option: string, bareUnit: BareUnit = "millis"): Options.Options<Duration.Duration> =>
  Options.text(option).pipe(
    Options.withPseudoName("DURATION"),
    Options.mapEffect((text) => Either.mapLeft(parseDuration(text, bareUnit), (reason) => invalid(option, reason)))
  )

/**
 * `--option N`, a whole number of at least `min` (default 1).
 *
 * @since 0.1.0
 * @category options
 */
export const wholeNumber = (option: string, min = 1): Options.Options<number> =>
  Options.text(option).pipe(
    Options.withPseudoName("N"),
    Options.mapEffect((text) =>
      /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) && Number(text) >= min
        ? Effect.succeed(Number(text))
        : Effect.fail(invalid(option, `${JSON.stringify(text)} is not a whole number of ${min} or more`))
    )
  )

/**
 * `--option VALUE`, one of `choices` (by name).
 *
 * @since 0.1.0
 * @category options
 */
export const oneOf = <A>(option: string, choices: ReadonlyArray<readonly [string, A]>): Options.Options<A> => {
  const names = choices.map(([choice]) => choice)
  return Options.text(option).pipe(
    Options.withPseudoName(names.join("|")),
    Options.mapEffect((text) => {
      const found = choices.find(([choice]) => choice === text)
      return found === undefined
        ? Effect.fail(invalid(option, `${JSON.stringify(text)} is not one of ${names.join(", ")}`))
        : Effect.succeed(found[1])
    })
  )
}

/**
 * The logger of the programs: Effect's logfmt lines, each written once, to standard error. It
 * replaces the default logger; run the program with `NodeRuntime.runMain({ disablePrettyLogger:
 * true })`, or runMain adds its pretty logger, which writes to standard output.
 *
 * @since 0.1.0
 * @category logging
 */
export const layerLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

// eslint-disable-next-line no-control-regex
const ansiEscapes = /\u001b\[[0-9;]*m/g

/**
 * `text` without ANSI colour codes.
 *
 * @since 0.1.0
 * @category console
 */
export const withoutColours = (text: string): string => text.replace(ansiEscapes, "")

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
    const plain = (stream: NodeJS.WriteStream, args: ReadonlyArray<unknown>) =>
      colours(stream) ? args : args.map((arg) => typeof arg === "string" ? withoutColours(arg) : arg)
    const log = (...args: Array<unknown>) => console.unsafe.log(...plain(process.stdout, args))
    const error = (...args: Array<unknown>) => console.unsafe.error(...plain(process.stderr, args))
    return Effect.withConsole(effect, {
      ...console,
      log: (...args) => Effect.sync(() => log(...args)),
      error: (...args) => Effect.sync(() => error(...args)),
      unsafe: { ...console.unsafe, log, error }
    })
  })

const isUsageError = (cause: Cause.Cause<unknown>) =>
  Option.exists(Cause.failureOption(cause), ValidationError.isValidationError)

const describe = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.pretty(cause),
    onSome: (error) =>
      typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
  })

/**
 * Reports how a program run failed, on standard error: after a usage error (which @effect/cli
 * printed on one line), `usage()`; any other failure as `<program>: <message>`. An interruption
 * (SIGINT, SIGTERM) is no failure.
 *
 * @since 0.1.0
 * @category running
 */
export const reportFailure =
  (program: string, usage: () => string) => <A, E, R>(run: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tapErrorCause(run, (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : isUsageError(cause)
        ? Console.error(usage())
        : Console.error(`${program}: ${describe(cause)}`))

/**
 * The exit status of a run: 0 done (interrupted by SIGINT or SIGTERM included), 2 a usage error,
 * 1 any other failure.
 *
 * @since 0.1.0
 * @category running
 */
export const exitCode = <A, E>(exit: Exit.Exit<A, E>): number =>
  Exit.match(exit, {
    onSuccess: () => 0,
    onFailure: (cause) => Cause.isInterruptedOnly(cause) ? 0 : isUsageError(cause) ? 2 : 1
  })
