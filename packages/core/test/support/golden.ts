import type { Message } from "@channel-layer/core/Message"
import { readFileSync } from "node:fs"

/** One case of the Python layer's golden wire bytes (test/fixtures/channels_rabbitmq-wire.json). */
export interface GoldenCase {
  readonly name: string
  readonly kind: "channel" | "group"
  readonly recipient: string
  readonly message: Message
  readonly body: Uint8Array
}

/** Turns the fixture's JSON conventions ({"$bytes": hex}, {"$int": decimal}) back into values. */
const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive)
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>
    if (typeof record.$bytes === "string") return new Uint8Array(Buffer.from(record.$bytes, "hex"))
    if (typeof record.$int === "string") return BigInt(record.$int)
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, revive(item)]))
  }
  return value
}

/** The golden cases, read from this package's fixture. */
export const goldenCases = (): ReadonlyArray<GoldenCase> => {
  const file = JSON.parse(readFileSync(new URL("../fixtures/channels_rabbitmq-wire.json", import.meta.url), "utf8"))
  return file.cases.map((entry: any) => ({
    name: entry.name,
    kind: entry.kind,
    recipient: entry.recipient,
    message: revive(entry.message) as Message,
    body: new Uint8Array(Buffer.from(entry.body_hex, "hex"))
  }))
}
