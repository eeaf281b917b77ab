/**
 * Tagged JSON, the TypeScript half of tagged.py: every msgpack value in JSON, exactly.
 *
 *   null, booleans, strings  -> themselves
 *   integers                 -> {"$int": "<decimal>"}   (numbers that are safe integers, and bigints)
 *   other numbers            -> {"$float": "<text>"}    ("nan", "inf", "-inf", "-0.0", "1.5", ...)
 *   Uint8Array               -> {"$bytes": "<base64>"}
 *   arrays                   -> JSON arrays
 *   objects                  -> {"$map": [[key, value], ...]}
 *
 * JavaScript has one number type, so a Python float with a whole value (2.0) comes back as 2 and
 * is tagged as an int on the way out.
 */
import type { MessageValue } from "@channel-layer/core/Message"

export type Tagged =
  | null
  | boolean
  | string
  | number
  | ReadonlyArray<Tagged>
  | { readonly $int: string }
  | { readonly $float: string }
  | { readonly $bytes: string }
  | { readonly $map: ReadonlyArray<readonly [Tagged, Tagged]> }

const floatText = (value: number): string =>
  Number.isNaN(value)
    ? "nan"
    : value === Infinity
    ? "inf"
    : value === -Infinity
    ? "-inf"
    : Object.is(value, -0)
    ? "-0.0"
    : String(value)

export const tag = (value: unknown): Tagged => {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value
  if (typeof value === "bigint") return { $int: value.toString() }
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && !Object.is(value, -0) ? { $int: String(value) } : { $float: floatText(value) }
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") }
  if (Array.isArray(value)) return value.map(tag)
  if (typeof value === "object") {
    return { $map: Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, tag(v)] as const) }
  }
  throw new TypeError(`cannot tag a ${typeof value}`)
}

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER)
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER)

const parseFloatText = (text: string): number =>
  text === "nan" ? NaN : text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text)

export const untag = (tagged: unknown): MessageValue => {
  if (tagged === null || typeof tagged === "boolean" || typeof tagged === "string") return tagged
  if (typeof tagged === "number") return tagged
  if (Array.isArray(tagged)) return tagged.map(untag)
  if (typeof tagged === "object") {
    const entries = Object.entries(tagged as Record<string, unknown>)
    if (entries.length === 1) {
      const [[tagName, inner]] = entries
      if (tagName === "$int" && typeof inner === "string") {
        const big = BigInt(inner)
        return big >= SAFE_MIN && big <= SAFE_MAX ? Number(big) : big
      }
      if (tagName === "$float" && typeof inner === "string") return parseFloatText(inner)
      if (tagName === "$bytes" && typeof inner === "string") return new Uint8Array(Buffer.from(inner, "base64"))
      if (tagName === "$map" && Array.isArray(inner)) {
        const out: Record<string, MessageValue> = {}
        for (const [key, value] of inner as ReadonlyArray<readonly [unknown, unknown]>) {
          if (typeof key !== "string") throw new TypeError(`a map key is ${typeof key}, not a string`)
          Object.defineProperty(out, key, { value: untag(value), enumerable: true, writable: true, configurable: true })
        }
        return out
      }
    }
  }
  throw new TypeError(`not tagged JSON: ${JSON.stringify(tagged)}`)
}
