/**
 * The command line of `channel-layer-zmq-proxy`: its usage text and a parser from arguments to
 * what to do. Pure, so it is tested without starting anything.
 *
 * @since 0.1.0
 */
import { Either } from "effect"

/**
 * The usage text (`--help`).
 *
 * @since 0.1.0
 * @category usage
 */
export const usage = `Usage: channel-layer-zmq-proxy --pull <endpoint> --pub <endpoint> [options]

The proxy of the dedicated ZeroMQ channel layer: layers PUSH to its PULL socket and subscribe to
its PUB socket. Stops cleanly on SIGINT or SIGTERM.

  --pull <endpoint>                    bind the PULL socket here (e.g. tcp://127.0.0.1:5557)
  --pub <endpoint>                     bind the PUB socket here (e.g. tcp://127.0.0.1:5556)
                                       An address other machines can reach, without CURVE,
                                       lets anyone who connects read and send messages (a
                                       warning is logged at start): bind 127.0.0.1, or set
                                       the CURVE keys below.
  --curve-secret-key <z85>             CURVE: the proxy's secret key; layers set the matching public
                                       key as curve.serverPublicKey
  --curve-secret-key-file <path>       read the secret key from a file instead (keeps it out of ps)
  --curve-authorized-key <z85>         CURVE: accept only these client public keys (repeatable)
  --curve-authorized-keys-file <path>  one client public key per line (# starts a comment)
  --send-hwm <n>                       PUB high-water mark per subscriber (default 10000)
  --receive-hwm <n>                    PULL high-water mark (default 1000)
  --hold-timeout <ms>                  how long a direct message waits for its process to
                                       subscribe (default 5000)
  --settle <ms>                        wait before forwarding after start, so that subscribers
                                       resubscribe after a restart (default 500)
  --stats-interval <s>                 log forwarding counts this often (default 60)
  --log-level <level>                  debug, info, warning or error (default info)
  --generate-key-pair                  print a new CURVE key pair as JSON and exit
  -h, --help                           print this help and exit
`

/**
 * A log level the proxy accepts.
 *
 * @since 0.1.0
 * @category models
 */
export type LogLevel = "debug" | "info" | "warning" | "error"

/**
 * The proxy's settings as given on the command line (key files not read yet).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunArguments {
  readonly pullAddress: string
  readonly publishAddress: string
  readonly curveSecretKey?: string
  readonly curveSecretKeyFile?: string
  readonly curveAuthorizedKeys: ReadonlyArray<string>
  readonly curveAuthorizedKeysFile?: string
  readonly sendHighWaterMark?: number
  readonly receiveHighWaterMark?: number
  readonly holdTimeoutMillis?: number
  readonly settleMillis?: number
  readonly statsIntervalSeconds?: number
  readonly logLevel: LogLevel
}

/**
 * What the command line asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type Command =
  | { readonly _tag: "Help" }
  | { readonly _tag: "GenerateKeyPair" }
  | { readonly _tag: "Run"; readonly arguments: RunArguments }

const numberOption = (name: string, value: string, integer: boolean): Either.Either<number, string> => {
  const parsed = Number(value)
  return Number.isFinite(parsed) && parsed >= 0 && (!integer || Number.isSafeInteger(parsed))
    ? Either.right(parsed)
    : Either.left(`${name} needs a ${integer ? "whole " : ""}number of zero or more, got ${JSON.stringify(value)}`)
}

const levels: ReadonlyArray<LogLevel> = ["debug", "info", "warning", "error"]

/**
 * Parses the arguments (without `node` and the script). `Left` holds what is wrong, for a usage
 * error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (args: ReadonlyArray<string>): Either.Either<Command, string> => {
  const values = new Map<string, string>()
  const authorized: Array<string> = []
  const takesValue = new Set([
    "--pull",
    "--pub",
    "--curve-secret-key",
    "--curve-secret-key-file",
    "--curve-authorized-key",
    "--curve-authorized-keys-file",
    "--send-hwm",
    "--receive-hwm",
    "--hold-timeout",
    "--settle",
    "--stats-interval",
    "--log-level"
  ])
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === "-h" || arg === "--help") return Either.right({ _tag: "Help" })
    if (arg === "--generate-key-pair") return Either.right({ _tag: "GenerateKeyPair" })
    const eq = arg.indexOf("=")
    const [name, inline] = arg.startsWith("--") && eq !== -1 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    if (!takesValue.has(name)) return Either.left(`unknown argument ${JSON.stringify(arg)}`)
    const value = inline ?? args[++i]
    if (value === undefined) return Either.left(`${name} needs a value`)
    if (name === "--curve-authorized-key") authorized.push(value)
    else if (values.has(name)) return Either.left(`${name} given twice`)
    else values.set(name, value)
  }
  const pull = values.get("--pull")
  const pub = values.get("--pub")
  if (pull === undefined || pub === undefined) return Either.left("--pull and --pub are required")
  if (values.has("--curve-secret-key") && values.has("--curve-secret-key-file")) {
    return Either.left("give --curve-secret-key or --curve-secret-key-file, not both")
  }
  const logLevel = (values.get("--log-level") ?? "info") as LogLevel
  if (!levels.includes(logLevel)) return Either.left(`--log-level must be one of ${levels.join(", ")}`)
  const numbers: Array<[string, string, boolean]> = [
    ["--send-hwm", "sendHighWaterMark", true],
    ["--receive-hwm", "receiveHighWaterMark", true],
    ["--hold-timeout", "holdTimeoutMillis", false],
    ["--settle", "settleMillis", false],
    ["--stats-interval", "statsIntervalSeconds", false]
  ]
  const parsed: Record<string, number> = {}
  for (const [flag, key, integer] of numbers) {
    const value = values.get(flag)
    if (value === undefined) continue
    const number = numberOption(flag, value, integer)
    if (Either.isLeft(number)) return Either.left(number.left)
    parsed[key] = number.right
  }
  const optional = (flag: string, key: string) => values.has(flag) ? { [key]: values.get(flag)! } : {}
  return Either.right({
    _tag: "Run",
    arguments: {
      pullAddress: pull,
      publishAddress: pub,
      ...optional("--curve-secret-key", "curveSecretKey"),
      ...optional("--curve-secret-key-file", "curveSecretKeyFile"),
      ...optional("--curve-authorized-keys-file", "curveAuthorizedKeysFile"),
      curveAuthorizedKeys: authorized,
      ...parsed,
      logLevel
    }
  })
}

/**
 * The keys of a key file: one per line, blank lines and `#` comments ignored.
 *
 * @since 0.1.0
 * @category parsing
 */
export const keysOf = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n/).map((line) => line.replace(/#.*$/, "").trim()).filter((line) => line.length > 0)
