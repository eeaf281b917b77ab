/**
 * Broker URLs: parsing `amqp://` and `amqps://` URLs into what amqplib's object form of `connect`
 * takes, and expanding a host name into every address it resolves to, so that each address is
 * tried in turn.
 */
import { Errors } from "@channel-layer/core"
import { Effect, Either } from "effect"
import { lookup } from "node:dns/promises"
import { isIP } from "node:net"

/** One parsed broker URL. */
export interface Endpoint {
  readonly protocol: "amqp" | "amqps"
  /** The host name or IP address, without IPv6 brackets. */
  readonly hostname: string
  readonly port: number
  readonly username: string
  readonly password: string
  /** The virtual host as written in the path (percent-encoded; amqplib decodes it). */
  readonly vhost: string
  /** Connection tuning from the query string (`?heartbeat=10&frameMax=131072`). */
  readonly heartbeat: number | undefined
  readonly frameMax: number | undefined
  readonly channelMax: number | undefined
  readonly locale: string | undefined
  /** The URL with the password masked, for logs and errors. */
  readonly display: string
}

const integerParam = (
  url: URL,
  name: string,
  index: string
): Either.Either<number | undefined, Errors.InvalidOptions> => {
  const raw = url.searchParams.get(name)
  if (raw === null) return Either.right(undefined)
  return /^\d+$/.test(raw)
    ? Either.right(Number(raw))
    : Either.left(
      new Errors.InvalidOptions({
        option: index,
        reason: `query parameter ${name} must be a non-negative integer, got ${raw}`
      })
    )
}

/** Parses one broker URL; `option` names it in errors (`url`, `url[1]`). */
export const parse = (raw: string, option: string): Either.Either<Endpoint, Errors.InvalidOptions> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Either.left(
      new Errors.InvalidOptions({ option, reason: "must be a URL like amqp://user:password@host:5672/vhost" })
    )
  }
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    return Either.left(
      new Errors.InvalidOptions({ option, reason: `must use amqp:// or amqps://, got ${url.protocol}//` })
    )
  }
  const protocol = url.protocol === "amqp:" ? "amqp" : "amqps"
  const hostname = url.hostname.replace(/^\[|\]$/g, "")
  if (hostname === "") return Either.left(new Errors.InvalidOptions({ option, reason: "must name a host" }))
  const port = url.port === "" ? (protocol === "amqp" ? 5672 : 5671) : Number(url.port)
  let username = "guest"
  let password = "guest"
  try {
    if (url.username !== "" || url.password !== "") {
      username = decodeURIComponent(url.username)
      password = decodeURIComponent(url.password)
    }
  } catch {
    return Either.left(
      new Errors.InvalidOptions({ option, reason: "has a badly percent-encoded user name or password" })
    )
  }
  const vhost = url.pathname.length > 1 ? url.pathname.slice(1) : "/"
  return Either.gen(function*() {
    const heartbeat = yield* integerParam(url, "heartbeat", option)
    const frameMax = yield* integerParam(url, "frameMax", option)
    const channelMax = yield* integerParam(url, "channelMax", option)
    const locale = url.searchParams.get("locale") ?? undefined
    const host = hostname.includes(":") ? `[${hostname}]` : hostname
    return {
      protocol,
      hostname,
      port,
      username,
      password,
      vhost,
      heartbeat,
      frameMax,
      channelMax,
      locale,
      display: `${protocol}://${encodeURIComponent(username)}:***@${host}:${port}/${vhost === "/" ? "%2F" : vhost}`
    } as const
  })
}

/** One address to dial: an endpoint and one IP address its host name resolved to. */
export interface Target {
  readonly endpoint: Endpoint
  readonly address: string
  /** `display` with the address when it differs from the host name. */
  readonly label: string
}

/**
 * Every address to try, in order: each endpoint in turn, and for a host name every address it
 * resolves to. A name that does not resolve is reported in `failures` and skipped.
 */
/** How host names become addresses (`dns.lookup` with `all: true` unless a test says otherwise). */
export type Lookup = (hostname: string) => Promise<ReadonlyArray<{ readonly address: string }>>

const systemLookup: Lookup = (hostname) => lookup(hostname, { all: true })

export const resolve = (
  endpoints: ReadonlyArray<Endpoint>,
  lookupAll: Lookup = systemLookup
): Effect.Effect<{ readonly targets: ReadonlyArray<Target>; readonly failures: ReadonlyArray<string> }> =>
  Effect.gen(function*() {
    const targets: Array<Target> = []
    const failures: Array<string> = []
    for (const endpoint of endpoints) {
      if (isIP(endpoint.hostname) !== 0) {
        targets.push({ endpoint, address: endpoint.hostname, label: endpoint.display })
        continue
      }
      const resolved = yield* Effect.either(Effect.tryPromise(() => lookupAll(endpoint.hostname)))
      if (Either.isLeft(resolved)) {
        failures.push(`${endpoint.display}: cannot resolve ${endpoint.hostname}: ${describeError(resolved.left.error)}`)
        continue
      }
      for (const { address } of resolved.right) {
        targets.push({ endpoint, address, label: `${endpoint.display} (${address})` })
      }
    }
    return { targets, failures }
  })

/** A one-line description of whatever amqplib, the socket or TLS threw. */
export const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return code !== undefined && !error.message.includes(String(code)) ? `${error.message} (${code})` : error.message
  }
  return String(error)
}
