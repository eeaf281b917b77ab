/**
 * Validation of the layer's options and their defaults, into the resolved form the rest of the
 * package reads.
 */
import { Errors, Options } from "@channel-layer/core"
import { Duration, Effect, Redacted, Schedule } from "effect"
import type { RabbitMQOptions, TlsOptions } from "../RabbitMQ.js"
import * as Endpoints from "./endpoints.js"

/** The URL of the Python layer's default broker. */
export const DEFAULT_URL = "amqp://guest:guest@127.0.0.1/asgi"

/** A jittered exponential backoff from 100 ms, capped at 5 s (4-6 s once jittered). */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5))),
  Schedule.jittered
)

/**
 * How much longer than `expiry` the queue outlives its connection by default: a process away for
 * that long finds its queue, its bindings and what was sent meanwhile; one gone for longer is gone.
 */
export const DEFAULT_QUEUE_EXPIRY_MARGIN = 60_000

/** RabbitMQ's default `max_message_size` (128 MiB); a bigger body closes the channel. */
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024

/** The options with every default applied, durations in milliseconds. */
export interface Resolved {
  readonly endpoints: ReadonlyArray<Endpoints.Endpoint>
  readonly expiry: number
  readonly localCapacity: number
  readonly localExpiry: number
  readonly remoteCapacity: number
  readonly queueType: "classic" | "quorum"
  /** The queue's `x-expires`: how long it outlives its last connection. */
  readonly queueExpiry: number
  readonly tls: TlsOptions | undefined
  readonly groupsExchange: string
  readonly connectTimeout: number
  readonly waitForConnection: number
  readonly confirmTimeout: number | undefined
  /** Whole seconds; `undefined` accepts the broker's proposal. */
  readonly heartbeat: number | undefined
  readonly retrySchedule: Schedule.Schedule<unknown, unknown>
  readonly maxMessageSize: number
}

const invalid = (option: string, reason: string) => Effect.fail(new Errors.InvalidOptions({ option, reason }))

/** The largest value of a signed 32-bit AMQP table integer (x-max-length, x-message-ttl). */
const INT32_MAX = 2 ** 31 - 1

const exchangePattern = /^[a-zA-Z0-9\-_.:]+$/

const boundedInteger = (option: string, value: unknown, max: number, why: string) =>
  Effect.flatMap(
    typeof value === "number" ? Options.positiveInteger(option, value) : invalid(option, "must be a number"),
    (n) => n <= max ? Effect.succeed(n) : invalid(option, `must be at most ${max} (${why}), got ${n}`)
  )

const urls = (url: RabbitMQOptions["url"]): Effect.Effect<ReadonlyArray<Endpoints.Endpoint>, Errors.InvalidOptions> => {
  const list = url === undefined ? [DEFAULT_URL] : Array.isArray(url) ? url : [url]
  if (list.length === 0) return invalid("url", "must name at least one broker URL")
  return Effect.forEach(list, (entry: unknown, i) => {
    const option = list.length === 1 ? "url" : `url[${i}]`
    const raw = Redacted.isRedacted(entry) ? Redacted.value(entry) : entry
    return typeof raw === "string"
      ? Endpoints.parse(raw, option)
      : invalid(option, `must be a string or a Redacted string, got ${typeof raw}`)
  })
}

const pem = (option: string, value: unknown) =>
  value === undefined || typeof value === "string" || value instanceof Uint8Array || Redacted.isRedacted(value)
    ? Effect.void
    : invalid(option, "must be PEM text (a string, Redacted string or Uint8Array)")

const tlsOptions = (tls: unknown, endpoints: ReadonlyArray<Endpoints.Endpoint>) =>
  Effect.gen(function*() {
    if (tls === undefined) return undefined
    if (typeof tls !== "object" || tls === null) return yield* invalid("tls", "must be an object")
    if (!endpoints.some((endpoint) => endpoint.protocol === "amqps")) {
      return yield* invalid("tls", "applies to amqps:// URLs only, and url has none (use amqps://host:5671/vhost)")
    }
    const { ca, cert, key, passphrase, rejectUnauthorized, servername } = tls as TlsOptions
    const cas: ReadonlyArray<unknown> = Array.isArray(ca) ? ca : [ca]
    for (const [i, one] of cas.entries()) yield* pem(Array.isArray(ca) ? `tls.ca[${i}]` : "tls.ca", one)
    yield* pem("tls.cert", cert)
    yield* pem("tls.key", key)
    if ((cert === undefined) !== (key === undefined)) {
      return yield* invalid(cert === undefined ? "tls.cert" : "tls.key", "a client certificate needs both cert and key")
    }
    if (passphrase !== undefined && typeof passphrase !== "string" && !Redacted.isRedacted(passphrase)) {
      return yield* invalid("tls.passphrase", "must be a string or a Redacted string")
    }
    if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== "boolean") {
      return yield* invalid("tls.rejectUnauthorized", "must be a boolean")
    }
    if (servername !== undefined && (typeof servername !== "string" || servername === "")) {
      return yield* invalid("tls.servername", "must be a non-empty string")
    }
    return tls as TlsOptions
  })

/**
 * Validates every option, failing with an `InvalidOptions` that names it and says what is
 * allowed: one check per option, in the order of the options' documentation.
 */
export const resolve = (options: RabbitMQOptions): Effect.Effect<Resolved, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "must be an object")
    const endpoints = yield* urls(options.url)
    const expiry = yield* Options.positiveDuration("expiry", options.expiry ?? Duration.seconds(60))
    if (expiry < 1 || expiry > INT32_MAX) {
      return yield* invalid("expiry", `must be between 1 ms and ${INT32_MAX} ms (it becomes x-message-ttl in ms)`)
    }
    const localCapacity = yield* boundedInteger(
      "localCapacity",
      options.localCapacity ?? 100,
      65535,
      "it is the consumer prefetch count, a 16-bit field"
    )
    const localExpiry = options.localExpiry === undefined
      ? expiry
      : yield* Options.positiveDuration("localExpiry", options.localExpiry)
    const remoteCapacity = yield* boundedInteger(
      "remoteCapacity",
      options.remoteCapacity ?? 100,
      INT32_MAX,
      "it becomes the queue's x-max-length"
    )
    const queueType = options.queueType ?? "classic"
    if (queueType !== "classic" && queueType !== "quorum") {
      return yield* invalid("queueType", `must be "classic" or "quorum", got ${JSON.stringify(queueType)}`)
    }
    const queueExpiry = options.queueExpiry === undefined
      ? Math.min(INT32_MAX, expiry + DEFAULT_QUEUE_EXPIRY_MARGIN)
      : yield* Options.positiveDuration("queueExpiry", options.queueExpiry)
    if (queueExpiry < 1000 || queueExpiry > INT32_MAX) {
      return yield* invalid(
        "queueExpiry",
        `must be between 1 second and ${INT32_MAX} ms (it becomes the queue's x-expires in ms), got ${queueExpiry} ms`
      )
    }
    const tls = yield* tlsOptions(options.tls, endpoints)
    const groupsExchange = options.groupsExchange ?? "groups"
    if (typeof groupsExchange !== "string" || !exchangePattern.test(groupsExchange) || groupsExchange.length > 255) {
      return yield* invalid(
        "groupsExchange",
        "must be 1 to 255 ASCII letters, digits, '-', '_', '.' or ':' " +
          `(an AMQP exchange name), got ${JSON.stringify(groupsExchange)}`
      )
    }
    if (groupsExchange.startsWith("amq.")) {
      return yield* invalid("groupsExchange", "names starting with \"amq.\" are reserved by the broker")
    }
    const connectTimeout = yield* Options.positiveDuration("connectTimeout", options.connectTimeout ?? "5 seconds")
    const waitForConnection = yield* Options.positiveDuration(
      "waitForConnection",
      options.waitForConnection ?? "10 seconds"
    )
    const confirmTimeout = options.confirmTimeout === undefined
      ? undefined
      : yield* Options.positiveDuration("confirmTimeout", options.confirmTimeout)
    let heartbeat: number | undefined = undefined
    if (options.heartbeat !== undefined) {
      const decoded = Duration.decodeUnknown(options.heartbeat)
      const millis = decoded._tag === "Some" ? Duration.toMillis(decoded.value) : Number.NaN
      if (!(millis === 0 || (millis >= 1000 && millis % 1000 === 0 && millis <= 65535_000))) {
        const plain = typeof options.heartbeat === "number" && options.heartbeat > 0 && options.heartbeat < 1000
        return yield* invalid(
          "heartbeat",
          "must be a whole number of seconds from 1 to 65535, or 0 to turn heartbeats off " +
            `(a plain number counts milliseconds${
              plain
                ? `: write "${options.heartbeat} seconds" or ${options.heartbeat}000 for ${options.heartbeat} s`
                : ""
            }), got ${decoded._tag === "Some" ? Duration.format(decoded.value) : String(options.heartbeat)}`
        )
      }
      heartbeat = millis / 1000
    }
    const retrySchedule = options.retrySchedule ?? defaultRetrySchedule
    if (!Schedule.isSchedule(retrySchedule)) return yield* invalid("retrySchedule", "must be an Effect Schedule")
    const maxMessageSize = yield* boundedInteger(
      "maxMessageSize",
      options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      512 * 1024 * 1024,
      "RabbitMQ's own ceiling"
    )
    return {
      endpoints,
      expiry,
      localCapacity,
      localExpiry,
      remoteCapacity,
      queueType,
      queueExpiry: Math.trunc(queueExpiry),
      tls,
      groupsExchange,
      connectTimeout,
      waitForConnection,
      confirmTimeout,
      heartbeat,
      retrySchedule,
      maxMessageSize
    }
  })
