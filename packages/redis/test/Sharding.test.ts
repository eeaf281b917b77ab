import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { crc32 as zlibCrc32 } from "node:zlib"
import {
  consistentHash,
  crc32,
  groupShardIndex,
  nonLocalName,
  pythonSendShardIndex,
  receiveShardIndex
} from "../src/internal/Sharding.js"

interface Entry {
  readonly name: string
  readonly hash: number
  readonly nonLocal: number
}

// Written by test/python/gen_sharding.py from Debian's channels_redis.
const fixture: { readonly rings: Record<string, ReadonlyArray<Entry>> } = JSON.parse(
  readFileSync(new URL("fixtures/sharding.json", import.meta.url), "utf8")
)

describe("Sharding", () => {
  it("the fixture covers 1, 2, 3 and 5 hosts and every index of each", () => {
    expect(Object.keys(fixture.rings).sort()).toEqual(["1", "2", "3", "5"])
    for (const [ring, entries] of Object.entries(fixture.rings)) {
      expect(new Set(entries.map((e) => e.hash)).size).toBe(Number(ring))
    }
  })

  for (const [ring, entries] of Object.entries(fixture.rings)) {
    const hosts = Number(ring)
    it(`matches channels_redis's consistent_hash with ${hosts} host(s) for ${entries.length} names`, () => {
      for (const entry of entries) {
        expect({ name: entry.name, hash: consistentHash(entry.name, hosts) }).toEqual({
          name: entry.name,
          hash: entry.hash
        })
        expect(consistentHash(nonLocalName(entry.name), hosts)).toBe(entry.nonLocal)
        expect(groupShardIndex(entry.name, hosts)).toBe(entry.hash)
        if (entry.name.includes("!")) {
          expect(receiveShardIndex(entry.name, hosts)).toBe(entry.nonLocal)
          expect(pythonSendShardIndex(entry.name, hosts)).toBe(entry.hash)
        } else {
          expect(receiveShardIndex(entry.name, hosts)).toBeUndefined()
          expect(pythonSendShardIndex(entry.name, hosts)).toBeUndefined()
        }
      }
    })
  }

  it("shows the channels_redis send/receive mismatch for some process-specific names", () => {
    // Documented in Sharding.ts: Python's send hashes the full name, its receive the non-local part.
    const mismatched = fixture.rings["2"].filter((e) => e.name.includes("!") && e.hash !== e.nonLocal)
    expect(mismatched.length).toBeGreaterThan(0)
  })

  it("nonLocalName keeps everything up to and including the first !", () => {
    expect(nonLocalName("specific.abc!def")).toBe("specific.abc!")
    expect(nonLocalName("specific.abc!")).toBe("specific.abc!")
    expect(nonLocalName("a!b!c")).toBe("a!")
    expect(nonLocalName("plain")).toBe("plain")
  })

  it("crc32 is zlib's", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc32(bytes) === zlibCrc32(bytes)))
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926)
  })

  it("the index is always in range, and strings hash as their UTF-8", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), fc.integer({ min: 1, max: 64 }), (name, hosts) => {
        const index = consistentHash(name, hosts)
        return Number.isInteger(index) && index >= 0 && index < hosts &&
          consistentHash(new TextEncoder().encode(name), hosts) === index
      })
    )
  })

  it("refuses a host count that is not a positive integer", () => {
    expect(() => consistentHash("a", 0)).toThrow(RangeError)
    expect(() => consistentHash("a", 1.5)).toThrow(RangeError)
  })
})
