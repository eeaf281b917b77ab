/**
 * Checks of layer options shared by every transport, each failing with an `InvalidOptions` that
 * names the option and says what is allowed.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { InvalidOptions } from "./Errors.js"

/**
 * A positive integer option (capacities, counts).
 *
 * @since 0.1.0
 * @category validation
 */
export const positiveInteger = (option: string, value: number): Effect.Effect<number, InvalidOptions> =>
  Number.isSafeInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOptions({ option, reason: `must be a positive integer, got ${String(value)}` }))

/**
 * A positive, finite duration option (expiries, timeouts), as milliseconds.
 *
 * @since 0.1.0
 * @category validation
 */
export const positiveDuration = (
  option: string,
  value: Duration.DurationInput
): Effect.Effect<number, InvalidOptions> =>
  Effect.suspend(() => {
    const decoded = Duration.decodeUnknown(value)
    if (decoded._tag === "None") {
      return Effect.fail(new InvalidOptions({ option, reason: `must be a Duration or a number of milliseconds` }))
    }
    const millis = Duration.toMillis(decoded.value)
    return Number.isFinite(millis) && millis > 0
      ? Effect.succeed(millis)
      : Effect.fail(new InvalidOptions({ option, reason: `must be a positive, finite duration, got ${String(value)}` }))
  })
