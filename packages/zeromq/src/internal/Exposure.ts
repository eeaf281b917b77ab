/**
 * Whether a bound socket can be reached from other machines, and the warning logged at start when
 * one can and has no CURVE: anyone who connects to it then reads (a PUB socket) or sends (a PULL
 * socket) messages, unauthenticated and unencrypted.
 *
 * Local: `ipc://` and `inproc://` endpoints, and TCP (or WebSocket) endpoints on a loopback
 * address: 127.0.0.0/8, `::1` (and `::ffff:127.x.x.x`), `localhost`. Anything else is exposed:
 * `tcp://*:port` and `0.0.0.0` (every network interface), any other address, host or interface
 * name, and the other transports (tipc, vmci, pgm, epgm).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { isIPv4, isIPv6 } from "node:net"

/**
 * The host of a `tcp://`, `ws://` or `wss://` endpoint (brackets of an IPv6 address removed), or
 * `undefined` for other transports.
 *
 * @since 0.1.0
 * @category parsing
 */
export const hostOf = (endpoint: string): string | undefined => {
  const match = /^(?:tcp|wss?):\/\/([^/]*)/i.exec(endpoint)
  if (match === null) return undefined
  const authority = match[1]
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]")
    return end === -1 ? authority : authority.slice(1, end)
  }
  const colon = authority.lastIndexOf(":")
  return colon === -1 ? authority : authority.slice(0, colon)
}

const isLoopbackHost = (host: string): boolean => {
  const lower = host.toLowerCase()
  if (lower === "localhost") return true
  if (isIPv4(lower)) return lower.startsWith("127.")
  if (isIPv6(lower)) {
    // The URL parser writes every IPv6 address one way: ::1, and ::ffff:7f00:1 for 127.0.0.1.
    const normalized = new URL(`http://[${lower}]/`).hostname
    return normalized === "[::1]" || /^\[::ffff:7f[\da-f]{2}:[\da-f]{1,4}\]$/.test(normalized)
  }
  return false
}

/**
 * Whether only this machine can reach a socket bound to `endpoint` (see the module's doc).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLocal = (endpoint: string): boolean => {
  if (/^(ipc|inproc):\/\//i.test(endpoint)) return true
  const host = hostOf(endpoint)
  return host !== undefined && isLoopbackHost(host)
}

/**
 * Whether a socket bound to `endpoint` listens on every network interface (`*`, `0.0.0.0`, `::`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEveryInterface = (endpoint: string): boolean => {
  const host = hostOf(endpoint)
  return host === "*" || host === "0.0.0.0" || (host !== undefined && isIPv6(host) && /^[0:]+$/.test(host))
}

/**
 * A socket a publisher or the proxy has bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bound {
  /** How logs name the socket ("the PUB socket", "the proxy's PULL socket"). */
  readonly role: string
  /** The option that gave its address ("publishAddress"). */
  readonly option: string
  /** The address as given. */
  readonly address: string
  /** The endpoint it is bound to (the address resolved: port, host). */
  readonly endpoint: string
  /** What anyone who connects can do ("read every message"). */
  readonly risk: string
  /** Whether it is a CURVE server. */
  readonly curve: boolean
  /** How to turn CURVE on, in the words of whoever started it (options, flags). */
  readonly curveHint: string
}

/**
 * The warning for a socket bound beyond loopback without CURVE, or `undefined` when there is
 * nothing to warn about.
 *
 * @since 0.1.0
 * @category logging
 */
export const warning = (bound: Bound): string | undefined => {
  if (bound.curve || isLocal(bound.endpoint)) return undefined
  const where = bound.endpoint === bound.address
    ? `${bound.role} (${bound.option}) is bound to ${bound.endpoint}`
    : `${bound.role} is bound to ${bound.endpoint} (${bound.option} ${bound.address})`
  const reach = isEveryInterface(bound.endpoint)
    ? "which listens on every network interface"
    : "which is not a loopback address"
  return `${where}, ${reach}, without CURVE: anyone who can connect to it can ${bound.risk}, ` +
    `unauthenticated and unencrypted. Bind it to 127.0.0.1 (e.g. tcp://127.0.0.1:5555) or ipc:// if only ` +
    `this machine needs it, or turn CURVE on: ${bound.curveHint}`
}

/**
 * Logs `warning(bound)`, if any, as a warning.
 *
 * @since 0.1.0
 * @category logging
 */
export const warnIfExposed = (bound: Bound): Effect.Effect<void> =>
  Effect.suspend(() => {
    const line = warning(bound)
    return line === undefined ? Effect.void : Effect.logWarning(line)
  })
