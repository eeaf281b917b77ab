import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import {
  decrypt,
  deriveKey,
  deriveKeys,
  encrypt,
  InvalidToken,
  keyFromBase64,
  keyToBase64,
  MAX_CLOCK_SKEW,
  nowSeconds,
  unverifiedTimestamp
} from "../src/internal/Fernet.js"
import { missingPython, runJson, skipNote } from "./python/python.js"

// Written by test/python/gen_fernet.py with Python's cryptography and channels_redis.
const fixture = JSON.parse(readFileSync(new URL("fixtures/fernet.json", import.meta.url), "utf8")) as {
  keys: Array<{ secret: string; fernetKey: string }>
  vectors: Array<{ secret: string; time: number; iv: string; plaintext: string; token: string }>
  layerTokens: Array<{
    secrets: Array<string>
    plaintext: string
    token: string
    opensWith: Array<Array<string>>
    refusedBy: Array<Array<string>>
  }>
  invalid: { secret: string; tokens: Array<{ why: string; token: string }> }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const ascii = (bytes: Uint8Array): string => Buffer.from(bytes).toString("ascii")
const opened = (either: Either.Either<Uint8Array, InvalidToken>): string | undefined =>
  Either.isRight(either) ? hex(either.right) : undefined

describe("Fernet", () => {
  it("derives the keys channels_redis derives from symmetric_encryption_keys", () => {
    for (const { fernetKey, secret } of fixture.keys) {
      expect(keyToBase64(deriveKey(secret))).toBe(fernetKey)
      expect(keyToBase64(deriveKey(Buffer.from(secret, "utf8")))).toBe(fernetKey)
      expect(keyToBase64(Either.getOrThrow(keyFromBase64(fernetKey)))).toBe(fernetKey)
    }
  })

  it("makes Python's tokens byte for byte from the same time and IV, and opens them", () => {
    for (const vector of fixture.vectors) {
      const key = deriveKey(vector.secret)
      const plaintext = Buffer.from(vector.plaintext, "hex")
      const token = encrypt(key, plaintext, { now: vector.time, iv: Buffer.from(vector.iv, "hex") })
      expect(ascii(token)).toBe(vector.token)
      expect(opened(decrypt(key, vector.token))).toBe(vector.plaintext)
      expect(opened(decrypt(key, token, { ttl: 60, now: vector.time + 60 }))).toBe(vector.plaintext)
      expect(Either.getOrThrow(unverifiedTimestamp(token))).toBe(vector.time)
    }
  })

  it("opens the layer's MultiFernet tokens with any key list holding the first key, and only those", () => {
    for (const entry of fixture.layerTokens) {
      for (const secrets of entry.opensWith) {
        expect(opened(decrypt(deriveKeys(secrets), entry.token))).toBe(entry.plaintext)
      }
      for (const secrets of entry.refusedBy) {
        const result = decrypt(deriveKeys(secrets), Buffer.from(entry.token, "ascii"))
        expect(Either.isLeft(result) && result.left.reason).toMatch(/signature matches none/)
      }
    }
  })

  it("refuses what Python refuses, with a typed error saying why", () => {
    const key = deriveKey(fixture.invalid.secret)
    const reasons = fixture.invalid.tokens.map(({ token, why }) => {
      const result = decrypt(key, token)
      expect(Either.isLeft(result), why).toBe(true)
      const error = Either.isLeft(result) ? result.left : undefined
      expect(error).toBeInstanceOf(InvalidToken)
      return [why, error?.reason]
    })
    expect(Object.fromEntries(reasons)).toEqual({
      "not base64": "not urlsafe base64",
      "empty": "empty",
      "wrong version byte": "version byte 0x81, not 0x80",
      "too short": "8 bytes, too short for a timestamp",
      "timestamp altered": "the signature does not match the key",
      "iv altered": "the signature does not match the key",
      "ciphertext altered": "the signature does not match the key",
      "signature altered": "the signature does not match the key",
      "signature cut": "the signature does not match the key"
    })
  })

  it("applies a time to live and the 60 s clock skew only when given a ttl", () => {
    const key = deriveKey("k")
    const token = encrypt(key, new Uint8Array([1, 2, 3]), { now: 1000 })
    expect(opened(decrypt(key, token, { ttl: 70, now: 1070 }))).toBe("010203")
    expect(Either.flip(decrypt(key, token, { ttl: 70, now: 1071 })).pipe(Either.getOrThrow).reason).toMatch(
      /^expired: made at 1000, 71 s ago/
    )
    expect(opened(decrypt(key, token, { ttl: 70, now: 1000 - MAX_CLOCK_SKEW }))).toBe("010203")
    expect(Either.isLeft(decrypt(key, token, { ttl: 70, now: 1000 - MAX_CLOCK_SKEW - 1 }))).toBe(true)
    expect(opened(decrypt(key, token))).toBe("010203")
  })

  it("round-trips any bytes with any keys, and the token is canonical urlsafe base64", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
        fc.nat({ max: 2 }),
        (plaintext, secrets, extra) => {
          const keys = deriveKeys(secrets)
          const token = encrypt(keys[0], plaintext)
          const text = ascii(token)
          const decoys = deriveKeys(Array.from({ length: extra }, (_, i) => `decoy-${i}-${secrets[0]}`))
          return /^[A-Za-z0-9_-]*={0,2}$/.test(text) && text.length % 4 === 0 &&
            opened(decrypt([...decoys, ...keys], token, { ttl: 60 })) === hex(plaintext) &&
            Math.abs(Either.getOrThrow(unverifiedTimestamp(text)) - nowSeconds()) <= 1
        }
      ),
      { numRuns: 200 }
    )
  })

  it("refuses a key that is not 32 bytes of urlsafe base64", () => {
    expect(Either.isLeft(keyFromBase64("abc"))).toBe(true)
    expect(Either.isLeft(keyFromBase64(Buffer.alloc(31).toString("base64url") + "="))).toBe(true)
  })

  const missing = missingPython(["cryptography", "channels_redis"])
  describe.skipIf(missing !== undefined)(`against live Python cryptography${skipNote(missing)}`, () => {
    it("Python opens our tokens and we open Python's, with channels_redis's key list", () => {
      const secrets = ["first secret", "second \u00e9"]
      const plaintexts = [new Uint8Array(0), new Uint8Array([0]), new Uint8Array(1000).fill(7), Buffer.from("hello")]
      const ours = plaintexts.map((p) => ascii(encrypt(deriveKey(secrets[0]), p)))
      const wrongKey = ascii(encrypt(deriveKey("not configured"), plaintexts[3]))
      const expired = ascii(encrypt(deriveKey(secrets[0]), plaintexts[3], { now: nowSeconds() - 100 }))
      const answer = runJson<{ opened: Array<string | null>; sealed: Array<string> }>("fernet_check.py", {
        // The second key opens too: MultiFernet tries each.
        secrets: [secrets[1], secrets[0]],
        open: [...ours, wrongKey, expired],
        ttl: 70,
        seal: plaintexts.map(hex)
      })
      expect(answer.opened).toEqual([...plaintexts.map(hex), null, null])
      expect(answer.sealed.map((token) => opened(decrypt(deriveKeys(secrets), token, { ttl: 70 })))).toEqual(
        // Sealed with secrets[1], the first of the list Python was given.
        plaintexts.map(hex)
      )
      expect(answer.sealed.map((token) => opened(decrypt(deriveKey(secrets[0]), token)))).toEqual(
        plaintexts.map(() => undefined)
      )
    })
  })
})
