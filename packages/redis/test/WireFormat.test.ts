import * as Codec from "@channel-layer/core/Codec"
import type { Message } from "@channel-layer/core/Message"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { arbitraryMessage } from "../../core/test/support/arbitraries.js"
import { decrypt, deriveKeys, unverifiedTimestamp } from "../src/internal/Fernet.js"
import { nonLocalName } from "../src/internal/Sharding.js"
import {
  type AsgiChannel,
  bodyOf,
  channelKey,
  deserialize,
  encodeBody,
  encodeGroupBodies,
  entriesOfCoreBody,
  groupKey,
  groupSendEnvelopes,
  inflightKey,
  PREFIX_LENGTH,
  recipients,
  sendEnvelope,
  serialize,
  TOKEN_TTL_MARGIN,
  WireFormatError
} from "../src/internal/WireFormat.js"
import { missingPython, runJson, skipNote } from "./python/python.js"
import { tag, type Tagged, untag } from "./python/TaggedJson.js"

interface Written {
  readonly key: string
  readonly member: string
  readonly score: string
  readonly ttl: number
}

interface Case {
  readonly name: string
  readonly op: "send" | "group_add" | "group_send"
  readonly target: string
  readonly message?: Tagged
  readonly members?: ReadonlyArray<string>
  readonly written: ReadonlyArray<Written>
}

// Written by test/python/gen_wire.py: what Debian's channels_redis wrote to a real Redis.
const fixture = JSON.parse(readFileSync(new URL("fixtures/wire.json", import.meta.url), "utf8")) as {
  readonly prefix: string
  readonly sealedPrefix: string
  readonly secrets: ReadonlyArray<string>
  readonly expiry: number
  readonly cases: ReadonlyArray<Case>
}

const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"))
const hex = (value: Uint8Array): string => Buffer.from(value).toString("hex")
const messageOf = (c: Case): Message => untag(c.message) as unknown as Message
const sealed = (c: Case) => c.name.startsWith("sealed ")
const prefixOf = (c: Case) => sealed(c) ? fixture.sealedPrefix : fixture.prefix
const keys = deriveKeys(fixture.secrets)
const read = (c: Case, member: Uint8Array) => Either.getOrThrow(deserialize(member, sealed(c) ? { keys } : undefined))

/** Where the fixture's message differs from what JavaScript can say (see WireFormat.ts). */
const integralFloats = (c: Case) => c.name.includes("integral floats")

/** The envelope each written member carries, as our side computes it. */
const expectedEnvelopes = (c: Case): ReadonlyMap<string, AsgiChannel> =>
  c.op === "send"
    ? new Map([[channelKey(prefixOf(c), c.target), sendEnvelope(c.target)]])
    : groupSendEnvelopes(prefixOf(c), c.members ?? [])

describe("WireFormat against channels_redis's golden bytes", () => {
  const messageCases = fixture.cases.filter((c) => c.op !== "group_add")

  it("the fixture has sends to both kinds of channel, group sends, and sealed ones", () => {
    expect(messageCases.filter((c) => c.op === "send" && !sealed(c)).length).toBeGreaterThanOrEqual(8)
    expect(messageCases.filter((c) => c.op === "group_send" && !sealed(c)).length).toBe(2)
    expect(messageCases.filter(sealed).length).toBe(3)
  })

  for (const c of messageCases) {
    describe(c.name, () => {
      it("writes under the keys we compute, one member per key, scored by the send time", () => {
        const envelopes = expectedEnvelopes(c)
        expect(c.written.map((w) => w.key).sort()).toEqual([...envelopes.keys()].sort())
        for (const w of c.written) {
          expect(Number(w.score)).toBeGreaterThan(1.7e9)
          expect(w.ttl).toBeGreaterThan(0)
          expect(w.ttl).toBeLessThanOrEqual(fixture.expiry)
        }
        if (c.op === "group_send") {
          // One script call per host: every member gets the same score.
          expect(new Set(c.written.map((w) => w.score)).size).toBe(1)
        }
      })

      it("each member reads back to the message, with the envelope channels_redis wrote", () => {
        const envelopes = expectedEnvelopes(c)
        for (const w of c.written) {
          const received = read(c, bytes(w.member))
          expect(received.message).toEqual(messageOf(c))
          expect(received.asgiChannel).toEqual(envelopes.get(w.key))
          // Read for the channel whose key this is, it goes to the channels Python delivers it to.
          const readFor = c.op === "send" ? nonLocalName(c.target) : nonLocalName(
            (received.asgiChannel as ReadonlyArray<string>)[0]
          )
          const expected = c.op === "send"
            ? [c.target]
            : readFor.includes("!")
            ? envelopes.get(w.key)
            : [readFor]
          expect(recipients(received, readFor)).toEqual(expected)
        }
      })

      if (!sealed(c)) {
        it(
          integralFloats(c)
            ? "writes whole floats as ints (JavaScript has one number type): the one known difference"
            : "writes the same bytes after the random prefix",
          () => {
            for (const w of c.written) {
              const member = bytes(w.member)
              const ours = serialize(messageOf(c), expectedEnvelopes(c).get(w.key), {
                prefix: member.subarray(0, PREFIX_LENGTH)
              })
              if (integralFloats(c)) {
                expect(hex(ours)).not.toBe(w.member)
                // 2.0 (cb 4000000000000000) becomes 02, 0.0 (cb 00...) becomes 00.
                expect(w.member).toContain("cb4000000000000000")
                expect(hex(ours)).not.toContain("cb4000000000000000")
                expect(read(c, ours)).toEqual(read(c, member))
              } else {
                expect(hex(ours)).toBe(w.member)
                if (c.op === "group_send") {
                  const list = expectedEnvelopes(c).get(w.key) as ReadonlyArray<string>
                  expect(hex(encodeGroupBodies(messageOf(c), [list])[0])).toBe(w.member.slice(2 * PREFIX_LENGTH))
                }
              }
            }
          }
        )
      } else {
        it("is a Fernet token of the same body, made with the first secret at the send time", () => {
          for (const w of c.written) {
            const token = bytes(w.member).subarray(PREFIX_LENGTH)
            const body = Either.getOrThrow(decrypt(keys[0], token))
            expect(hex(body)).toBe(hex(encodeBody(messageOf(c), expectedEnvelopes(c).get(w.key))))
            const made = Either.getOrThrow(unverifiedTimestamp(token))
            // Sealed a moment before the score was taken (a second boundary may fall between).
            expect(Number(w.score) - made).toBeGreaterThanOrEqual(0)
            expect(Number(w.score) - made).toBeLessThan(2)
            // Opened as channels_redis opens it: time to live expiry + 10.
            const ttl = fixture.expiry + TOKEN_TTL_MARGIN
            expect(Either.isRight(deserialize(bytes(w.member), { keys, ttl, now: made + ttl }))).toBe(true)
            const late = deserialize(bytes(w.member), { keys, ttl, now: made + ttl + 1 })
            expect(Either.isLeft(late) && late.left.reason).toMatch(/expired/)
            // Without the keys it is not msgpack of a map.
            expect(Either.isLeft(deserialize(bytes(w.member)))).toBe(true)
          }
        })
      }
    })
  }

  for (const c of fixture.cases.filter((c) => c.op === "group_add")) {
    it(`${c.name}: the group's sorted set holds the channel names as UTF-8, scored by time`, () => {
      for (const w of c.written) expect(w.key).toBe(groupKey(prefixOf(c), c.target))
      expect(c.written.map((w) => Buffer.from(w.member, "hex").toString("utf8"))).toEqual(c.members)
    })
  }

  it("names the in-flight key as channels_redis does", () => {
    expect(inflightKey(channelKey("asgi", "specific.abc!def"))).toBe("asgispecific.abc!$inflight")
    expect(groupKey("asgi", "room")).toBe("asgi:group:room")
  })
})

describe("WireFormat", () => {
  const envelopes: fc.Arbitrary<AsgiChannel> = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.array(fc.string(), { maxLength: 4 })
  )

  it("round-trips any message and envelope, with and without encryption", () => {
    fc.assert(
      fc.property(arbitraryMessage, envelopes, fc.boolean(), (message, envelope, encrypted) => {
        const options = encrypted ? { keys: deriveKeys(["k"]) } : undefined
        const member = serialize(message, envelope, options)
        const received = Either.getOrThrow(deserialize(member, options))
        expect(received.message).toEqual(message)
        expect(received.asgiChannel).toEqual(envelope)
        if (!encrypted) expect(hex(member.subarray(PREFIX_LENGTH))).toBe(hex(encodeBody(message, envelope)))
      }),
      { numRuns: 300 }
    )
  })

  it("takes another random_prefix_length (channels_redis 4.2+), 0 included", () => {
    for (const prefixLength of [0, 1, 5, 32]) {
      const member = serialize({ type: "t", n: 1 }, "a!b", { prefixLength })
      expect(member.length).toBe(prefixLength + encodeBody({ type: "t", n: 1 }, "a!b").length)
      expect(Either.getOrThrow(deserialize(member, { prefixLength }))).toEqual({
        message: { type: "t", n: 1 },
        asgiChannel: "a!b"
      })
    }
    expect(() => serialize({ type: "t" }, undefined, { prefixLength: 2, prefix: new Uint8Array(3) })).toThrow(
      RangeError
    )
  })

  it("encodeGroupBodies writes what encodeBody writes for each list, across the map header sizes", () => {
    const wide = fc.dictionary(
      fc.string().filter((key) => !key.startsWith("__asgi_") && key !== "type"),
      fc.integer(),
      {
        minKeys: 10,
        maxKeys: 20
      }
    )
    fc.assert(
      fc.property(
        fc.oneof(arbitraryMessage, wide.map((rest) => ({ type: "wide", ...rest }) as Message)),
        fc.array(fc.array(fc.string(), { minLength: 1, maxLength: 20 }), { maxLength: 4 }),
        (message, lists) => {
          const bodies = encodeGroupBodies(message, lists)
          expect(bodies.map(hex)).toEqual(lists.map((list) => hex(encodeBody(message, list))))
        }
      ),
      { numRuns: 300 }
    )
    // 15 keys and the envelope: the header goes from fixmap to map16.
    const fifteen = { type: "t", ...Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`k${i}`, i])) } as Message
    expect(hex(encodeGroupBodies(fifteen, [["a!b"]])[0])).toBe(hex(encodeBody(fifteen, ["a!b"])))
    expect(encodeGroupBodies(fifteen, [["a!b"]])[0][0]).toBe(0xde)
  })

  it("turns core's bodies (envelope last) into channels_redis's, across the map header sizes", () => {
    const wide = fc.dictionary(
      fc.string().filter((key) => !key.startsWith("__asgi_") && key !== "type"),
      fc.integer(),
      { minKeys: 10, maxKeys: 20 }
    )
    fc.assert(
      fc.property(
        fc.oneof(arbitraryMessage, wide.map((rest) => ({ type: "wide", ...rest }) as Message)),
        fc.string(),
        fc.array(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), { maxLength: 3 }),
        (message, name, lists) => {
          const direct = entriesOfCoreBody(Codec.encode(message, { channel: name }), { channel: name })
          expect(hex(bodyOf(direct, undefined))).toBe(hex(encodeBody(message, undefined)))
          expect(hex(bodyOf(direct, name))).toBe(hex(encodeBody(message, name)))
          const group = entriesOfCoreBody(Codec.encode(message, { group: name }), { group: name })
          expect(lists.map((list) => hex(bodyOf(group, list)))).toEqual(
            lists.map((list) => hex(encodeBody(message, list)))
          )
        }
      ),
      { numRuns: 300 }
    )
    // A body that does not end with the envelope named is a bug of the caller: a RangeError.
    expect(() => entriesOfCoreBody(Codec.encode({ type: "t" }, { channel: "a" }), { channel: "b" })).toThrow(RangeError)
    expect(() => entriesOfCoreBody(new Uint8Array(0), { group: "g" })).toThrow(RangeError)
  })

  it("puts a fresh random prefix on each member", () => {
    const a = serialize({ type: "t" }, undefined)
    const b = serialize({ type: "t" }, undefined)
    expect(hex(a.subarray(PREFIX_LENGTH))).toBe(hex(b.subarray(PREFIX_LENGTH)))
    expect(hex(a.subarray(0, PREFIX_LENGTH))).not.toBe(hex(b.subarray(0, PREFIX_LENGTH)))
  })

  it("refuses, with a typed error and never a throw, what does not read", () => {
    const reason = (member: Uint8Array, options?: Parameters<typeof deserialize>[1]) => {
      const result = deserialize(member, options)
      expect(Either.isLeft(result)).toBe(true)
      const error = Either.isLeft(result) ? result.left : undefined
      expect(error).toBeInstanceOf(WireFormatError)
      return error?.reason
    }
    const prefix = new Uint8Array(PREFIX_LENGTH)
    const withPrefix = (body: ReadonlyArray<number>) => new Uint8Array([...prefix, ...body])
    expect(reason(new Uint8Array(11))).toBe("11 bytes, shorter than the 12-byte prefix")
    expect(reason(withPrefix([0x91, 0x01]))).toBe("the body is not a msgpack map")
    expect(reason(withPrefix([0x81, 0xa1, 0x61, 0x01]))).toBe("the message has no string \"type\"")
    // {"type": "t", "__asgi_channel__": 1}
    const badEnvelope = Buffer.concat([
      Buffer.from([0x82, 0xa4]),
      Buffer.from("type"),
      Buffer.from([0xa1, 0x74, 0xb0]),
      Buffer.from("__asgi_channel__"),
      Buffer.from([0x01])
    ])
    expect(reason(withPrefix([...badEnvelope]))).toBe("__asgi_channel__ is neither a string nor a list of strings")
    const plain = serialize({ type: "t" }, undefined)
    expect(reason(plain, { keys: deriveKeys(["k"]) })).toMatch(/^invalid Fernet token/)
    const sealedMember = serialize({ type: "t" }, undefined, { keys: deriveKeys(["k"]) })
    expect(reason(sealedMember, { keys: deriveKeys(["other"]) })).toBe(
      "invalid Fernet token: the signature does not match the key"
    )
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      deserialize(junk)
      deserialize(junk, { keys: deriveKeys(["k"]) })
    }))
  })
})

const missing = missingPython(["channels_redis", "cryptography", "msgpack"])
describe.skipIf(missing !== undefined)(
  `WireFormat against live channels_redis serialize/deserialize${skipNote(missing)}`,
  () => {
    const withEnvelope = (message: Message, envelope: AsgiChannel) =>
      envelope === undefined ? message : { ...message, __asgi_channel__: envelope }
    const b64 = (value: Uint8Array) => Buffer.from(value).toString("base64")

    for (const secrets of [undefined, ["live secret", "older"]]) {
      it(`each side reads what the other writes, for any message and envelope${secrets ? ", encrypted" : ""}`, () => {
        const samples = fc.sample(
          fc.tuple(
            arbitraryMessage,
            fc.oneof(fc.constant(undefined), fc.string(), fc.array(fc.string(), { maxLength: 3 }))
          ),
          { numRuns: 150, seed: 42 }
        )
        const options = secrets === undefined ? undefined : { keys: deriveKeys(secrets) }
        const answer = runJson<
          { read: Array<{ ok: boolean; message?: Tagged; error?: string }>; write: Array<string> }
        >(
          "wire_check.py",
          {
            secrets: secrets ?? null,
            read: samples.map(([message, envelope]) => b64(serialize(message, envelope, options))),
            write: samples.map(([message, envelope]) => tag(withEnvelope(message, envelope)))
          }
        )
        samples.forEach(([message, envelope], i) => {
          // Python's deserialize keeps __asgi_channel__ in the dict (its receive takes it out).
          expect(answer.read[i].ok).toBe(true)
          expect(untag(answer.read[i].message)).toEqual(withEnvelope(message, envelope))
          const received = Either.getOrThrow(deserialize(Buffer.from(answer.write[i], "base64"), options))
          expect(received).toEqual({ message, asgiChannel: envelope })
        })
      })
    }

    it("Python refuses a member sealed with other keys (InvalidToken) and one that is too old", () => {
      const keys = deriveKeys(["ours"])
      const answer = runJson<{ read: Array<{ ok: boolean; error?: string }> }>("wire_check.py", {
        secrets: ["theirs"],
        expiry: 60,
        read: [
          b64(serialize({ type: "t" }, undefined, { keys })),
          b64(
            serialize({ type: "t" }, undefined, {
              keys: deriveKeys(["theirs"]),
              now: Math.floor(Date.now() / 1000) - 71
            })
          ),
          b64(
            serialize({ type: "t" }, undefined, {
              keys: deriveKeys(["theirs"]),
              now: Math.floor(Date.now() / 1000) - 60
            })
          )
        ]
      })
      expect(answer.read.map((r) => r.ok ? "ok" : r.error)).toEqual(["InvalidToken", "InvalidToken", "ok"])
    })
  }
)
