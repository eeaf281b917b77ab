/**
 * Option values of the command line, each read with a usage error that names the option and says
 * what it accepts: durations (`500ms`, `2s`, `1m`, `1h`, Effect's `2 seconds`, or a bare number of
 * milliseconds), positive integers, and one of a list.
 *
 * @since 0.1.0
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Duration, Effect, Either, Option } from "effect"

const invalid = (name: string, reason: string) => ValidationError.invalidValue(HelpDoc.p(`--${name}: ${reason}`))

const shortUnits: Record<string, (amount: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours
}

/**
 * What a duration may look like, for error messages and help.
 *
 * @since 0.1.0
 * @category durations
 */
export const durationSyntax = "500ms, 2s, 1m, 1h, \"2 seconds\", \"500 millis\" or a number of milliseconds"

/**
 * Reads a duration; `Left` says what is accepted.
 *
 * @since 0.1.0
 * @category durations
 */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const trimmed = text.trim()
  const short = /^(\d+(?:\.\d+)?) ?(ms|s|m|h)$/.exec(trimmed)
  if (short !== null) return Either.right(shortUnits[short[2]!]!(Number(short[1])))
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Either.right(Duration.millis(Number(trimmed)))
  // Effect's "2 seconds", "500 millis", "1 minute" (and nanos, micros, hours, days, weeks).
  const long = /^\d/.test(trimmed) ? Duration.decodeUnknown(trimmed) : Option.none()
  return Option.match(long, {
    onNone: () => Either.left(`${JSON.stringify(text)} is not a duration: write ${durationSyntax}`),
    onSome: Either.right
  })
}

/**
 * `--NAME DURATION`, read with `parseDuration`.
 *
 * @since 0.1.0
 * @category options
 */
export const duration = (name: string): Options.Options<Duration.Duration> =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.mapEffect((text) => Either.mapLeft(parseDuration(text), (reason) => invalid(name, reason)))
  )

/**
 * `--NAME N`, a whole number of 1 or more.
 *
 * @since 0.1.0
 * @category options
 */
export const positiveInteger = (name: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("N"),
    Options.mapEffect((text) =>
      /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) && Number(text) >= 1
        ? Effect.succeed(Number(text))
        : Effect.fail(invalid(name, `${JSON.stringify(text)} is not a whole number of 1 or more`))
    )
  )

/**
 * `--NAME VALUE`, one of `choices` (by name).
 *
 * @since 0.1.0
 * @category options
 */
export const oneOf = <A>(name: string, choices: ReadonlyArray<readonly [string, A]>): Options.Options<A> => {
  const names = choices.map(([choice]) => choice)
  return Options.text(name).pipe(
    Options.withPseudoName(names.join("|")),
    Options.mapEffect((text) => {
      const found = choices.find(([choice]) => choice === text)
      return found === undefined
        ? Effect.fail(invalid(name, `${JSON.stringify(text)} is not one of ${names.join(", ")}`))
        : Effect.succeed(found[1])
    })
  )
}
