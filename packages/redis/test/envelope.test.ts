import { Codec } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Envelope from "../src/internal/Envelope.js"

describe("Envelope (until WireFormat replaces it)", () => {
  it("a group body becomes each key's member with the list of recipients, for every group-name length", () => {
    for (const length of [1, 14, 31, 32, 33, 99]) {
      const group = "g".repeat(length)
      const message = { type: "t", n: 1, nested: { list: [1, "x"] } }
      const body = Codec.encode(message, { group })
      for (const channels of [["a!1"], Array.from({ length: 20 }, (_, i) => `specific.abc!${"c".repeat(40)}${i}`)]) {
        const stored = Envelope.forMembers(body, group, channels)
        const opened = Envelope.open(stored)
        expect(Either.getOrThrow(opened)).toStrictEqual({ message, channels })
      }
    }
  })

  it("direct members read back; what is not a message is a typed error", () => {
    const stored = Envelope.wrap(Codec.encode({ type: "t" }, { channel: "x!y" }))
    expect(stored.byteLength).toBe(Envelope.RANDOM_PREFIX + Codec.encode({ type: "t" }, { channel: "x!y" }).byteLength)
    expect(Either.getOrThrow(Envelope.open(stored))).toStrictEqual({ message: { type: "t" }, channels: ["x!y"] })
    expect(Either.getLeft(Envelope.open(Buffer.alloc(5)))._tag).toBe("Some")
    expect(Either.isLeft(Envelope.open(Buffer.concat([Buffer.alloc(12), Buffer.from([0x93, 1, 2, 3])])))).toBe(true)
  })
})
