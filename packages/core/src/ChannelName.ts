/**
 * Channel and group names as the Django Channels layer spec defines them, and the random,
 * process-local names `newChannel` hands out.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { InvalidChannelName, InvalidGroupName } from "./Errors.js"
import { RecentlyValid } from "./internal/hotPath.js"

/**
 * Names must be shorter than this many characters.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_NAME_LENGTH = 100

const channelPattern = /^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$/
const groupPattern = /^[a-zA-Z\d\-_.]+$/

const describeValue = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value

/** What a kind of name must look like, and the error that says it does not. */
interface NameRule<E> {
  readonly kind: "channel" | "group"
  readonly pattern: RegExp
  /** What the pattern allows, in words. */
  readonly allowed: string
  readonly recentlyValid: RecentlyValid
  readonly error: (name: unknown, reason: string) => E
}

const problemWith = <E>(rule: NameRule<E>, name: unknown): E | undefined => {
  if (typeof name !== "string") {
    return rule.error(name, `a ${rule.kind} name must be a string, got ${describeValue(name)}`)
  }
  if (rule.recentlyValid.has(name)) return undefined
  if (name.length >= MAX_NAME_LENGTH) {
    return rule.error(
      name,
      `a ${rule.kind} name must be shorter than ${MAX_NAME_LENGTH} characters, got ${name.length}`
    )
  }
  if (!rule.pattern.test(name)) return rule.error(name, `a ${rule.kind} name may contain only ${rule.allowed}`)
  rule.recentlyValid.add(name)
  return undefined
}

const channelRule: NameRule<InvalidChannelName> = {
  kind: "channel",
  pattern: channelPattern,
  allowed: "ASCII letters, digits, '-', '_' and '.', " +
    "optionally followed by '!' and a process-local suffix of the same characters",
  recentlyValid: new RecentlyValid(4096),
  error: (channel, reason) => new InvalidChannelName({ channel, reason })
}

const groupRule: NameRule<InvalidGroupName> = {
  kind: "group",
  pattern: groupPattern,
  allowed: "ASCII letters, digits, '-', '_' and '.'",
  recentlyValid: new RecentlyValid(4096),
  error: (group, reason) => new InvalidGroupName({ group, reason })
}

/**
 * Why `name` is not a valid channel name, or `undefined` when it is. The synchronous core of
 * {@link validateChannel}, for hot paths that already run inside an Effect.
 *
 * @since 0.1.0
 * @category validation
 */
export const channelNameProblem = (name: unknown): InvalidChannelName | undefined => problemWith(channelRule, name)

/**
 * Why `name` is not a valid group name, or `undefined` when it is.
 *
 * @since 0.1.0
 * @category validation
 */
export const groupNameProblem = (name: unknown): InvalidGroupName | undefined => problemWith(groupRule, name)

/**
 * Succeeds with the name when it is a valid channel name (`^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$`,
 * shorter than 100 characters), fails with `InvalidChannelName` saying what is allowed otherwise.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateChannel = (name: unknown): Effect.Effect<string, InvalidChannelName> => {
  const problem = channelNameProblem(name)
  return problem === undefined ? Effect.succeed(name as string) : Effect.fail(problem)
}

/**
 * Succeeds with the name when it is a valid group name (`^[a-zA-Z\d\-_.]+$`, shorter than 100
 * characters), fails with `InvalidGroupName` saying what is allowed otherwise.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateGroup = (name: unknown): Effect.Effect<string, InvalidGroupName> => {
  const problem = groupNameProblem(name)
  return problem === undefined ? Effect.succeed(name as string) : Effect.fail(problem)
}

/**
 * Whether a channel name is process-local (`prefix!suffix`), the kind `newChannel` returns.
 *
 * @since 0.1.0
 * @category names
 */
export const isProcessLocal = (channel: string): boolean => channel.includes("!")

/**
 * The part of a channel name before `!` (the whole name for a normal channel). Transports route
 * on it: it names the process, or the broker queue, that owns the channel.
 *
 * @since 0.1.0
 * @category names
 */
export const routingPrefix = (channel: string): string => {
  const bang = channel.indexOf("!")
  return bang === -1 ? channel : channel.slice(0, bang)
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

/**
 * `length` random ASCII letters from the operating system's CSPRNG, without modulo bias.
 *
 * @since 0.1.0
 * @category names
 */
export const randomLetters = (length: number): string => {
  let out = ""
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 52 letters: keep bytes below 208 = 4 * 52 so every letter is equally likely.
      if (byte < 208) out += letters[byte % 52]
      if (out.length === length) break
    }
  }
  return out
}

/**
 * A fresh process-local channel name `<prefix>!<12 random letters>`.
 *
 * @since 0.1.0
 * @category names
 */
export const makeProcessLocal = (prefix: string): string => `${prefix}!${randomLetters(12)}`
