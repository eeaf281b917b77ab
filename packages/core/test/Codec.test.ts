import { Codec, Message } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { isUtf8 } from "node:buffer"
import { arbitraryMessage } from "./support/arbitraries.js"
import { goldenCases } from "./support/golden.js"

const envelopeOf = (kind: "channel" | "group", recipient: string): Codec.Envelope =>
  kind === "channel" ? { channel: recipient } : { group: recipient }

const decodeError = (bytes: Uint8Array) => {
  const result = Codec.decode(bytes)
  if (Either.isRight(result)) throw new Error("expected a decode error")
  return result.left
}

describe("Codec", () => {
  describe("golden bytes of the Python layer (channels_rabbitmq 4.0.1, msgpack 1.0.3)", () => {
    for (const golden of goldenCases()) {
      it(`${golden.name}: encodes to exactly the Python bytes`, () => {
        const message = Either.getOrThrow(Message.copy(golden.message))
        const body = Codec.encode(message, envelopeOf(golden.kind, golden.recipient))
        expect(Buffer.from(body).toString("hex")).toBe(Buffer.from(golden.body).toString("hex"))
      })
      it(`${golden.name}: decodes the Python bytes back to the message`, () => {
        const decoded = Either.getOrThrow(Codec.decode(golden.body))
        expect(decoded.message).toStrictEqual(Either.getOrThrow(Message.copy(golden.message)))
        expect(golden.kind === "channel" ? decoded.channel : decoded.group).toBe(golden.recipient)
      })
    }
  })

  it("puts the envelope key last and the expiry after it", () => {
    const body = Codec.encode({ type: "t", a: 1 }, { channel: "c!x", expiresAt: 1700000000000 })
    const decoded = Either.getOrThrow(Codec.decode(body))
    expect(decoded).toStrictEqual({ message: { type: "t", a: 1 }, channel: "c!x", expiresAt: 1700000000000 })
    const text = Buffer.from(body).toString("latin1")
    expect(text.indexOf(Codec.CHANNEL_KEY)).toBeLessThan(text.indexOf(Codec.EXPIRES_KEY))
    expect(text.indexOf("a")).toBeLessThan(text.indexOf(Codec.CHANNEL_KEY))
  })

  it("encodeWith writes trailing entries after the message; decodeSettingAside takes them out again", () => {
    const body = Codec.encodeWith({ type: "t", a: 1 }, [["__asgi_channel__", ["x!1", "x!2"]], ["z", null]])
    // The same bytes as a message with those keys last: what channels_redis writes for a group send.
    expect(Buffer.from(body)).toEqual(
      Buffer.from(Codec.encodeWith({ type: "t", a: 1, __asgi_channel__: ["x!1", "x!2"], z: null }, []))
    )
    const decoded = Either.getOrThrow(Codec.decodeSettingAside(body, ["__asgi_channel__"]))
    expect(decoded).toStrictEqual({
      message: { type: "t", a: 1, z: null },
      aside: { __asgi_channel__: ["x!1", "x!2"] }
    })
    // No envelope is required, and none is taken unless asked.
    const plain = Either.getOrThrow(Codec.decodeSettingAside(Codec.encodeWith({ type: "t" }, []), []))
    expect(plain).toStrictEqual({ message: { type: "t" }, aside: {} })
    expect(Either.isLeft(Codec.decodeSettingAside(Codec.encodeWith({ type: "t" }, [["type", 1]]), []))).toBe(true)
  })

  it("round-trips every valid message, direct and group (property)", () => {
    fc.assert(
      fc.property(arbitraryMessage, fc.boolean(), (input, direct) => {
        const message = Either.getOrThrow(Message.copy(input))
        const envelope = direct ? { channel: "q!c" } : { group: "g" }
        const decoded = Either.getOrThrow(Codec.decode(Codec.encode(message, envelope)))
        expect(decoded.message).toStrictEqual(message)
        expect(direct ? decoded.channel : decoded.group).toBe(direct ? "q!c" : "g")
      }),
      { numRuns: 500 }
    )
  })

  it("encodedSizeOver gives the encoded size exactly when it is over the limit (property)", () => {
    fc.assert(
      fc.property(
        arbitraryMessage,
        fc.boolean(),
        fc.fullUnicodeString(),
        fc.option(fc.double(), { nil: undefined }),
        fc.integer({ min: -300, max: 300 }),
        (input, direct, recipient, expiresAt, offset) => {
          const message = Either.getOrThrow(Message.copy(input))
          const expiry = expiresAt === undefined ? {} : { expiresAt }
          const envelope: Codec.Envelope = direct ? { channel: recipient, ...expiry } : { group: recipient, ...expiry }
          const size = Codec.encode(message, envelope).length
          for (const limit of [size + offset, size - 1, size, 0, 3 * size + 200]) {
            expect(Codec.encodedSizeOver(message, envelope, limit)).toBe(size > limit ? size : undefined)
          }
        }
      ),
      { numRuns: 500 }
    )
    const wide = { type: "t", text: "\u{1F600}".repeat(1000), bytes: new Uint8Array(5000), list: [1.5, 2n ** 63n] }
    const size = Codec.encode(wide, { group: "g" }).length
    expect(Codec.encodedSizeOver(wide, { group: "g" }, size)).toBeUndefined()
    expect(Codec.encodedSizeOver(wide, { group: "g" }, size - 1)).toBe(size)
  })

  // The smallest str format for the UTF-8 size, as Python writes it, at every format boundary,
  // for ASCII and for strings whose UTF-8 is longer than their UTF-16 (the encoder writes those
  // behind the room the largest size needs, then moves them behind the actual header).
  it("writes each string with the smallest str header, at the format boundaries", () => {
    const header = (size: number) =>
      size < 32
        ? [0xa0 | size]
        : size < 0x100
        ? [0xd9, size]
        : size < 0x10000
        ? [0xda, size >> 8, size & 0xff]
        : [0xdb, (size >>> 24) & 0xff, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff]
    const strings: Array<string> = []
    for (const size of [0, 1, 31, 32, 33, 255, 256, 257, 0xffff, 0x10000, 0x10001]) {
      strings.push("a".repeat(size))
      strings.push("é".repeat(Math.floor(size / 2)) + "a".repeat(size % 2)) // 2 UTF-8 bytes each
      strings.push("€".repeat(Math.floor(size / 3)) + "a".repeat(size % 3)) // 3 UTF-8 bytes each
      strings.push("😀".repeat(Math.floor(size / 4)) + "a".repeat(size % 4)) // 4 UTF-8 bytes, 2 UTF-16 units
    }
    for (const text of strings) {
      const body = Codec.encode({ type: "t", text }, { group: "g" })
      const utf8 = Buffer.from(text, "utf8")
      // map header, "type", "t", "text", then the string under test
      const offset = 1 + 5 + 2 + 5
      const expected = Buffer.concat([Buffer.from(header(utf8.length)), utf8])
      expect(Buffer.from(body.subarray(offset, offset + expected.length)).equals(expected), `${utf8.length} bytes`)
        .toBe(true)
      expect(Either.getOrThrow(Codec.decode(body)).message.text).toBe(text)
    }
  })

  it("writes and reads 64-bit integers at the safe-integer boundary (uint64 big-endian, as Python)", () => {
    const cases: Array<[number | bigint, string]> = [
      [2 ** 32, "cf0000000100000000"],
      [2 ** 32 + 5, "cf0000000100000005"],
      [1_700_000_000_000, "cf0000018bcfe56800"],
      [Number.MAX_SAFE_INTEGER, "cf001fffffffffffff"],
      [2n ** 53n, "cf0020000000000000"],
      [2n ** 64n - 1n, "cfffffffffffffffff"],
      [-(2n ** 63n), "d38000000000000000"]
    ]
    for (const [value, hex] of cases) {
      const body = Codec.encode({ type: "t", n: value } as any, { group: "g" })
      // map header, "type", "t", "n", then the integer
      expect(Buffer.from(body.subarray(10, 19)).toString("hex"), String(value)).toBe(hex)
      expect(Either.getOrThrow(Codec.decode(body)).message.n).toBe(value)
    }
  })

  it("decodes short strings right through the cache, whatever collides in it", () => {
    // Far more distinct short strings than cache slots, as keys and values, each decoded twice.
    const words = Array.from({ length: 5_000 }, (_, i) => `k${(i * 7919).toString(36)}`.slice(0, 1 + (i % 24)))
    for (let round = 0; round < 2; round++) {
      words.forEach((word, i) => {
        const message = { type: word, [word]: words[(i + 1) % words.length], x: `${word}é` }
        expect(Either.getOrThrow(Codec.decode(Codec.encode(message, { group: "g" }))).message).toStrictEqual(message)
      })
    }
  })

  it("keeps every body intact while later ones are encoded, small and large", () => {
    const messages = Array.from({ length: 2_000 }, (_, i) => ({ type: "t", i, text: "x".repeat(i % 300) }))
    messages.push({ type: "t", i: -1, text: "y".repeat(100_000) })
    const bodies = messages.map((message) => Codec.encode(message, { channel: `q!${message.i}` }))
    bodies.forEach((body, i) => {
      expect(Either.getOrThrow(Codec.decode(body)).message).toStrictEqual(messages[i])
    })
  })

  it("decodes a body that is a view into a larger buffer, a Buffer or a plain Uint8Array", () => {
    const body = Codec.encode({ type: "t", text: "a longer text than sixteen bytes", n: 300 }, { channel: "q!c" })
    const frame = Buffer.alloc(body.length + 20, 0xff)
    frame.set(body, 7)
    for (
      const bytes of [
        frame.subarray(7, 7 + body.length),
        new Uint8Array(frame.buffer, frame.byteOffset + 7, body.length)
      ]
    ) {
      expect(Either.getOrThrow(Codec.decode(bytes))).toStrictEqual({
        message: { type: "t", text: "a longer text than sixteen bytes", n: 300 },
        channel: "q!c"
      })
    }
  })

  it("never throws on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = Codec.decode(bytes)
        if (Either.isLeft(result)) expect(result.left._tag).toBe("MessageDecodeError")
      }),
      { numRuns: 2000 }
    )
  })

  it("never throws on truncated or corrupted valid bodies (property)", () => {
    fc.assert(
      fc.property(arbitraryMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), (input, at, byte) => {
        const body = Codec.encode(Either.getOrThrow(Message.copy(input)), { group: "g" })
        const truncated = body.subarray(0, at % body.length)
        expect(() => Codec.decode(truncated)).not.toThrow()
        const corrupted = body.slice()
        corrupted[at % body.length] = byte
        expect(() => Codec.decode(corrupted)).not.toThrow()
      }),
      { numRuns: 500 }
    )
  })

  it("rejects bodies that are not messages, saying why", () => {
    expect(decodeError(new TextEncoder().encode("not msgpack {")).reason).toMatch(/msgpack|map/)
    expect(decodeError(Uint8Array.of(0x91, 0x01)).reason).toBe("the body is not a msgpack map")
    // {1: "x"}: a non-string key, which also stops Python consumers
    expect(decodeError(Uint8Array.of(0x81, 0x01, 0xa1, 0x78)).reason).toMatch(/map key is number/)
    // {"a": ext8}: ext types are not part of the format
    expect(decodeError(Uint8Array.of(0x81, 0xa1, 0x61, 0xc7, 0x01, 0x05, 0x00)).reason).toMatch(
      /unsupported msgpack type/
    )
    expect(decodeError(Uint8Array.of(0x81, 0xa1, 0x61, 0xdc, 0xff)).reason).toMatch(/truncated/)
    const noType = Codec.encode({ text: "x" } as any, { channel: "c" })
    expect(decodeError(noType).reason).toMatch(/no string "type"/)
    const noEnvelope = Uint8Array.of(0x81, 0xa4, ...new TextEncoder().encode("type"), 0xa1, 0x74)
    expect(decodeError(noEnvelope).reason).toMatch(/exactly one/)
    const trailing = new Uint8Array([...Codec.encode({ type: "t" }, { group: "g" }), 0x00])
    expect(decodeError(trailing).reason).toMatch(/trailing/)
    const huge = Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)
    expect(decodeError(huge).reason).toMatch(/truncated/)
  })

  it("decodes a __proto__ key as data, never as a prototype", () => {
    const body = Codec.encode({ type: "t", ["__proto__"]: { polluted: true } } as any, { group: "g" })
    const decoded = Either.getOrThrow(Codec.decode(body))
    expect(Object.getPrototypeOf(decoded.message)).toBe(Object.prototype)
    expect(({} as any).polluted).toBeUndefined()
    expect(Object.keys(decoded.message)).toContain("__proto__")
  })

  it("decodes integers in the safe range as numbers and beyond it as bigints", () => {
    const body = Codec.encode({ type: "t", small: 2 ** 40, big: 2n ** 60n, neg: -(2n ** 60n) } as any, { group: "g" })
    const { message } = Either.getOrThrow(Codec.decode(body))
    expect(message).toStrictEqual({ type: "t", small: 2 ** 40, big: 2n ** 60n, neg: -(2n ** 60n) })
  })

  it("writes floats as float64 and -0 as a float, as Python does", () => {
    const body = Codec.encode({ type: "t", f: 0.1, z: -0 } as any, { group: "g" })
    const { message } = Either.getOrThrow(Codec.decode(body))
    expect(message.f).toBe(0.1)
    expect(Object.is(message.z, -0)).toBe(true)
  })
})

describe("Codec and UTF-8", () => {
  const utf8 = (text: string) => [...Buffer.from(text, "utf8")]
  /** A msgpack str of `bytes` in the given format. */
  const str = (bytes: ReadonlyArray<number>, format: "fixstr" | "str8" | "str16" | "str32"): Array<number> => {
    const n = bytes.length
    switch (format) {
      case "fixstr":
        return [0xa0 | n, ...bytes]
      case "str8":
        return [0xd9, n, ...bytes]
      case "str16":
        return [0xda, n >> 8, n & 0xff, ...bytes]
      case "str32":
        return [0xdb, 0, 0, n >> 8, n & 0xff, ...bytes]
    }
  }
  /** `{type: "t", <key>: <value>, __asgi_group__: "g"}` with the key and value given as msgpack. */
  const body = (key: Array<number>, value: Array<number>) =>
    Uint8Array.of(
      0x83,
      ...str(utf8("type"), "fixstr"),
      ...str(utf8("t"), "fixstr"),
      ...key,
      ...value,
      ...str(utf8(Codec.GROUP_KEY), "fixstr"),
      ...str(utf8("g"), "fixstr")
    )
  // Where the value of `body`'s second entry starts: map header, "type", "t", the key.
  const valueAt = (key: Array<number>) => 1 + 5 + 2 + key.length
  const textKey = str(utf8("text"), "fixstr")
  const formats = ["fixstr", "str8", "str16", "str32"] as const
  const headerSize = { fixstr: 1, str8: 2, str16: 3, str32: 5 }

  // Each invalid sequence, and how far into it the decoder finds the problem (-1: it ends the string).
  const invalid: Array<[string, Array<number>, number, RegExp]> = [
    ["a lone continuation byte", [0x80], 0, /continuation byte .* without a lead byte/],
    ["an overlong NUL", [0xc0, 0x80], 0, /overlong/],
    ["an overlong '/' (C1)", [0xc1, 0xaf], 0, /overlong/],
    ["an overlong three-byte form", [0xe0, 0x80, 0xaf], 0, /overlong/],
    ["an overlong four-byte form", [0xf0, 0x80, 0x80, 0xaf], 0, /overlong/],
    ["an encoded high surrogate (ED A0 80)", [0xed, 0xa0, 0x80], 0, /surrogate/],
    ["an encoded low surrogate (ED BF BF)", [0xed, 0xbf, 0xbf], 0, /surrogate/],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0, /above U\+10FFFF/],
    ["a byte that never appears (F8)", [0xf8, 0x88, 0x80, 0x80, 0x80], 0, /0xf8, which never appears/],
    ["a byte that never appears (FF)", [0xff], 0, /0xff, which never appears/],
    ["a sequence cut short by the end of the string", [0xe2, 0x82], -1, /cut short by the end/],
    ["a sequence cut short by an ASCII byte", [0xe2, 0x82, 0x41], 0, /cut short \(the byte 0x41/]
  ]

  for (const [name, bad, at, problem] of invalid) {
    for (const format of formats) {
      for (const [where, prefix] of [["at the start", []], ["after 40 valid bytes", utf8("é".repeat(20))]] as const) {
        if (format === "fixstr" && prefix.length > 0) continue // a fixstr holds up to 31 bytes
        it(`refuses ${name} in a ${format} value ${where}, naming the byte`, () => {
          const content = [...prefix, ...bad, ...(at === -1 ? [] : utf8("ok"))]
          const error = decodeError(body(textKey, str(content, format)))
          const offset = valueAt(textKey) + headerSize[format] + prefix.length + Math.max(at, 0)
          expect(error.reason).toMatch(new RegExp(`^not valid msgpack: invalid UTF-8 in a string at byte ${offset}\\b`))
          expect(error.reason).toMatch(problem)
        })
      }
    }
  }

  it("refuses invalid UTF-8 in a map key, short and long, naming the byte", () => {
    const short = str([0x6b, 0xed, 0xa0, 0x80], "fixstr")
    expect(decodeError(body(short, [0x01])).reason).toMatch(/invalid UTF-8 in a string at byte 10: a UTF-16 surrogate/)
    const long = str([...utf8("k".repeat(30)), 0xc0, 0x80], "str8")
    expect(decodeError(body(long, [0x01])).reason).toMatch(/invalid UTF-8 in a string at byte 40\b/)
    // In the envelope and in nested maps and arrays too.
    const nested = [0x91, 0x81, ...str([0x80], "fixstr"), 0xc0]
    expect(decodeError(body(textKey, nested)).reason).toMatch(/invalid UTF-8 in a string at byte 16\b/)
  })

  it("decodes every valid string, in every format, to the same text (property)", () => {
    fc.assert(
      fc.property(fc.fullUnicodeString({ maxLength: 80 }), fc.constantFrom(...formats), (text, format) => {
        const content = utf8(text)
        fc.pre(format !== "fixstr" || content.length < 32)
        const decoded = Either.getOrThrow(Codec.decode(body(textKey, str(content, format))))
        expect(decoded.message.text).toBe(text)
        const asKey = Either.getOrThrow(Codec.decode(body(str(content, format === "fixstr" ? "str8" : format), [1])))
        expect(asKey.message[text]).toBe(text === "type" ? "t" : 1)
      }),
      { numRuns: 1000 }
    )
  })

  it("decodes a string exactly when its bytes are UTF-8, as Node's validator says (property)", () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      // Mostly valid text with one byte changed: the edges of the sequences.
      fc.tuple(fc.fullUnicodeString({ minLength: 1, maxLength: 20 }), fc.nat(), fc.integer({ min: 0x80, max: 0xff }))
        .map(([text, at, byte]) => {
          const out = Buffer.from(text, "utf8")
          out[at % out.length] = byte
          return new Uint8Array(out)
        })
    )
    fc.assert(
      fc.property(bytes, (content) => {
        const result = Codec.decode(body(textKey, str([...content], "str8")))
        if (isUtf8(content)) expect(Either.getOrThrow(result).message.text).toBe(Buffer.from(content).toString("utf8"))
        else expect(Either.isLeft(result) && result.left.reason).toMatch(/invalid UTF-8 in a string at byte \d+/)
      }),
      { numRuns: 3000 }
    )
  })

  it("keeps a leading byte order mark and noncharacters as they are", () => {
    for (const text of ["\uFEFF", "\uFEFFstarts with a BOM", "\uFFFE\uFFFF", "\u{10FFFF}", "\u{1F600}".repeat(20)]) {
      const message = { type: text, [text]: text }
      expect(Either.getOrThrow(Codec.decode(Codec.encode(message, { group: "g" }))).message).toStrictEqual(message)
    }
  })
})

describe("Codec on Buffers", () => {
  it("copies bytes out of the body it decodes (a Buffer from a socket is reused)", () => {
    const body = Buffer.from(Codec.encode({ type: "t", b: new Uint8Array([1, 2, 3]) }, { group: "g" }))
    const { message } = Either.getOrThrow(Codec.decode(body))
    body.fill(0)
    expect(message.b).toStrictEqual(new Uint8Array([1, 2, 3]))
    expect((message.b as Uint8Array).constructor).toBe(Uint8Array)
  })
})
