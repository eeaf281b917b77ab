/**
 * Validation of the layer's options and their defaults (channels_redis's), into the resolved form
 * the rest of the package reads. Each bad option is an `InvalidOptions` naming it and saying what
 * is allowed.
 */
import { ChannelCapacity, Errors, Options } from "@channel-layer/core"
import { Duration, Effect, Redacted } from "effect"
import type { RedisHost, RedisOptions, RedisTlsOptions } from "../Redis.js"

/** channels_redis's default host. */
export const DEFAULT_HOST = "redis://localhost:6379"

/** One Redis server, as node-redis connects to it. */
export interface Endpoint {
  /** `redis://…`, `rediss://…` (TLS) or `unix://…` as given, for log lines (password hidden). */
  readonly display: string
  /** A URL for node-redis (`redis://` or `rediss://`), or `undefined` for a unix socket. */
  readonly url: string | undefined
  /** The unix socket path of a `unix://` host. */
  readonly path: string | undefined
  /** The database of a `unix://` host (`?db=N`). */
  readonly database: number | undefined
  /** The password of a `unix://` host (`unix://:password@/path`). */
  readonly password: string | undefined
}

/** What node-redis passes to `tls.connect`. */
export interface TlsConnection {
  readonly ca?: Array<string | Buffer>
  readonly cert?: string | Buffer
  readonly key?: string | Buffer
  readonly servername?: string
  readonly rejectUnauthorized?: boolean
}

/** The options with every default applied, durations in milliseconds. */
export interface Resolved {
  readonly hosts: ReadonlyArray<Endpoint>
  readonly prefix: string
  readonly expiry: number
  readonly groupExpiry: number
  readonly capacity: number
  readonly capacityOf: (channel: string) => number
  readonly symmetricEncryptionKeys: ReadonlyArray<Redacted.Redacted<string>>
  /** Node's TLS options for `rediss://` hosts. */
  readonly tls: TlsConnection | undefined
  readonly connectTimeout: number
  readonly waitForConnection: number
  readonly maxMessageSize: number
}

const invalid = (option: string, reason: string) => Effect.fail(new Errors.InvalidOptions({ option, reason }))

const hidePassword = (url: URL): string => {
  const copy = new URL(url.href)
  if (copy.password !== "") copy.password = "***"
  return copy.href
}

const endpoint = (entry: unknown, option: string): Effect.Effect<Endpoint, Errors.InvalidOptions> => {
  const raw = Redacted.isRedacted(entry) ? Redacted.value(entry) : entry
  if (typeof raw === "object" && raw !== null) {
    const { host, port } = raw as RedisHost
    if (typeof host !== "string" || host === "") return invalid(`${option}.host`, "must be a non-empty host name")
    const p = port ?? 6379
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      return invalid(`${option}.port`, `must be an integer from 1 to 65535, got ${String(p)}`)
    }
    const url = `redis://${host.includes(":") ? `[${host}]` : host}:${p}`
    return Effect.succeed({ display: url, url, path: undefined, database: undefined, password: undefined })
  }
  if (typeof raw !== "string") {
    return invalid(option, `must be a URL string (redis://, rediss:// or unix://) or { host, port }, got ${typeof raw}`)
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return invalid(
      option,
      `is not a URL: ${JSON.stringify(raw)} (write redis://host:6379/0, rediss://… or unix:///path)`
    )
  }
  if (url.protocol === "redis:" || url.protocol === "rediss:") {
    if (url.hostname === "") return invalid(option, `names no host: ${hidePassword(url)}`)
    const db = url.pathname.replace(/^\//, "")
    if (db !== "" && !/^\d+$/.test(db)) {
      return invalid(option, `the path must be a database number (redis://host:6379/0), got ${JSON.stringify(db)}`)
    }
    return Effect.succeed({
      display: hidePassword(url),
      url: raw,
      path: undefined,
      database: undefined,
      password: undefined
    })
  }
  if (url.protocol === "unix:") {
    if (url.pathname === "" || url.pathname === "/") {
      return invalid(option, "names no socket path (unix:///path/to/redis.sock)")
    }
    const db = url.searchParams.get("db")
    if (db !== null && !/^\d+$/.test(db)) {
      return invalid(option, `?db= must be a database number, got ${JSON.stringify(db)}`)
    }
    return Effect.succeed({
      display: hidePassword(url),
      url: undefined,
      path: decodeURIComponent(url.pathname),
      database: db === null ? undefined : Number(db),
      password: url.password === "" ? undefined : decodeURIComponent(url.password)
    })
  }
  return invalid(option, `must use redis://, rediss:// (TLS) or unix://, got ${url.protocol}//`)
}

const hostList = (hosts: RedisOptions["hosts"]) => {
  const list: ReadonlyArray<unknown> = hosts === undefined ? [DEFAULT_HOST] : Array.isArray(hosts) ? hosts : [hosts]
  if (list.length === 0) return invalid("hosts", "must name at least one Redis server")
  return Effect.forEach(list, (entry, i) => endpoint(entry, list.length === 1 ? "hosts" : `hosts[${i}]`))
}

const pemValue = (value: string | Uint8Array): string | Buffer => typeof value === "string" ? value : Buffer.from(value)

const isPem = (value: unknown) => typeof value === "string" || value instanceof Uint8Array

const tlsOptions = (
  tls: unknown,
  hosts: ReadonlyArray<Endpoint>
): Effect.Effect<TlsConnection | undefined, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (tls === undefined) return undefined
    if (typeof tls !== "object" || tls === null) return yield* invalid("tls", "must be an object")
    if (!hosts.some((host) => host.url?.startsWith("rediss:") === true)) {
      return yield* invalid("tls", "applies to rediss:// hosts only, and hosts has none (write rediss://host:6379)")
    }
    const { ca, cert, key, rejectUnauthorized, servername } = tls as RedisTlsOptions
    const cas: ReadonlyArray<unknown> = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca]
    for (const [i, one] of cas.entries()) {
      if (!isPem(one)) {
        return yield* invalid(
          Array.isArray(ca) ? `tls.ca[${i}]` : "tls.ca",
          "must be PEM text (a string or Uint8Array)"
        )
      }
    }
    if (cert !== undefined && !isPem(cert)) {
      return yield* invalid(
        "tls.cert",
        "must be PEM text (a string or Uint8Array)"
      )
    }
    const rawKey: unknown = Redacted.isRedacted(key) ? Redacted.value(key) : key
    if (rawKey !== undefined && !isPem(rawKey)) {
      return yield* invalid("tls.key", "must be PEM text (a string, Redacted string or Uint8Array)")
    }
    if ((cert === undefined) !== (rawKey === undefined)) {
      return yield* invalid(cert === undefined ? "tls.cert" : "tls.key", "a client certificate needs both cert and key")
    }
    if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== "boolean") {
      return yield* invalid("tls.rejectUnauthorized", "must be a boolean")
    }
    if (servername !== undefined && (typeof servername !== "string" || servername === "")) {
      return yield* invalid("tls.servername", "must be a non-empty string")
    }
    return {
      ...(cas.length > 0 ? { ca: (cas as ReadonlyArray<string | Uint8Array>).map(pemValue) } : {}),
      ...(cert !== undefined ? { cert: pemValue(cert) } : {}),
      ...(rawKey !== undefined ? { key: pemValue(rawKey as string | Uint8Array) } : {}),
      ...(servername !== undefined ? { servername } : {}),
      ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {})
    }
  })

/** Validates every option, in the order of the options' documentation. */
export const resolve = (options: RedisOptions): Effect.Effect<Resolved, Errors.InvalidOptions> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) return yield* invalid("options", "must be an object")
    const hosts = yield* hostList(options.hosts)
    const prefix = options.prefix ?? "asgi"
    if (typeof prefix !== "string" || !/^[\x21-\x7e]*$/.test(prefix) || prefix.length > 100) {
      return yield* invalid(
        "prefix",
        `must be a string of at most 100 printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`
      )
    }
    const expiry = yield* Options.positiveDuration("expiry", options.expiry ?? Duration.seconds(60))
    const groupExpiry = yield* Options.positiveDuration("groupExpiry", options.groupExpiry ?? Duration.days(1))
    const capacity = yield* Options.positiveInteger("capacity", options.capacity ?? 100)
    for (const [pattern, value] of ChannelCapacity.capacities(options.channelCapacity)) {
      yield* Options.positiveInteger(`channelCapacity[${pattern}]`, value)
    }
    const keys = options.symmetricEncryptionKeys
    if (keys !== undefined && !Array.isArray(keys)) {
      return yield* invalid(
        "symmetricEncryptionKeys",
        "must be a list of keys (as channels_redis's symmetric_encryption_keys), even for one key"
      )
    }
    const symmetricEncryptionKeys: Array<Redacted.Redacted<string>> = []
    for (const [i, key] of (keys ?? []).entries()) {
      const raw: unknown = Redacted.isRedacted(key) ? Redacted.value(key) : key
      if (typeof raw !== "string" || raw === "") {
        return yield* invalid(
          `symmetricEncryptionKeys[${i}]`,
          `must be a non-empty string or Redacted string (a secret channels_redis hashes into a Fernet key), got ${
            raw === "" ? "an empty string" : typeof raw
          }`
        )
      }
      symmetricEncryptionKeys.push(Redacted.make(raw))
    }
    const tls = yield* tlsOptions(options.tls, hosts)
    const connectTimeout = yield* Options.positiveDuration("connectTimeout", options.connectTimeout ?? "5 seconds")
    const waitForConnection = yield* Options.positiveDuration(
      "waitForConnection",
      options.waitForConnection ?? "10 seconds"
    )
    const maxMessageSize = yield* Options.positiveInteger("maxMessageSize", options.maxMessageSize ?? 512 * 1024 * 1024)
    if (maxMessageSize > 512 * 1024 * 1024) {
      return yield* invalid("maxMessageSize", `must be at most 512 MiB (Redis's largest string), got ${maxMessageSize}`)
    }
    return {
      hosts,
      // Whole milliseconds: PEXPIRE takes integers.
      prefix,
      expiry: Math.ceil(expiry),
      groupExpiry: Math.ceil(groupExpiry),
      capacity,
      capacityOf: ChannelCapacity.resolver(capacity, options.channelCapacity),
      symmetricEncryptionKeys,
      tls,
      connectTimeout,
      waitForConnection,
      maxMessageSize
    }
  })
