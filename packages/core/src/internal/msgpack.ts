/**
 * A msgpack encoder and decoder shaped after what Python's `msgpack.packb(use_bin_type=True)`
 * writes, byte for byte: the smallest int format (unsigned formats for non-negative ints), float64
 * for every non-integer, str formats for strings, bin formats for bytes. The general-purpose
 * libraries differ on exactly that point (msgpackr writes positive int64 as `0xd3`, Python as
 * `0xcf`), and the golden bytes of the Python layer must match, so the format is written here.
 *
 * Decoding is strict: map keys must be strings, strings must be well-formed UTF-8, ext types and
 * trailing bytes are rejected. Integers decode as numbers in the safe range and as bigints beyond it.
 */

import { MAX_DEPTH } from "../Message.js"
import { carve, SLAB_MAX_VALUE } from "./hotPath.js"

/** Thrown inside the decoder; the public Codec turns it into a typed error. */
export class MsgpackError extends Error {}

const SAFE_MAX_BIG = BigInt(Number.MAX_SAFE_INTEGER)
const SAFE_MIN_BIG = BigInt(Number.MIN_SAFE_INTEGER)

/** Bytes of the str header for a string of `size` UTF-8 bytes (fixstr, str8, str16, str32). */
const headerSize = (size: number): number => size < 32 ? 1 : size < 0x100 ? 2 : size < 0x10000 ? 3 : 5

/**
 * An upper bound on the bytes `Writer.value` writes for a validated value, found from lengths
 * alone (no string is read): 5 bytes for any header, 3 UTF-8 bytes per UTF-16 unit, 9 for any
 * number. Stops adding once the bound is over `limit` (then it is some value over `limit`).
 */
export const sizeBound = (value: unknown, limit: number): number => {
  switch (typeof value) {
    case "string":
      return 5 + 3 * value.length
    case "object": {
      if (value === null) return 1
      if (value instanceof Uint8Array) return 5 + value.length
      let bound = 5
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && bound <= limit; i++) bound += sizeBound(value[i], limit - bound)
        return bound
      }
      const keys = Object.keys(value)
      for (let i = 0; i < keys.length && bound <= limit; i++) {
        bound += 5 + 3 * keys[i].length + sizeBound((value as Record<string, unknown>)[keys[i]], limit - bound)
      }
      return bound
    }
    default:
      return 9
  }
}

/**
 * Writes msgpack into one growing buffer that is reused from call to call; `finish` copies out
 * the bytes of the value just written.
 */
export class Writer {
  private buffer: Buffer = Buffer.allocUnsafe(4096)
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength)
  private position = 0

  reset(): void {
    this.position = 0
  }

  /** How many bytes were written since `reset`. */
  get size(): number {
    return this.position
  }

  /** A copy of the bytes written since `reset` (small ones carved out of a shared slab). */
  finish(): Uint8Array {
    const size = this.position
    if (size <= SLAB_MAX_VALUE) return carve(this.buffer, size)
    const out = new Uint8Array(size)
    out.set(this.buffer.subarray(0, size))
    return out
  }

  private ensure(extra: number): void {
    const needed = this.position + extra
    if (needed <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < needed) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buffer.copy(next, 0, 0, this.position)
    this.buffer = next
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  }

  private byte(value: number): void {
    this.buffer[this.position++] = value
  }

  nil(): void {
    this.ensure(1)
    this.byte(0xc0)
  }

  boolean(value: boolean): void {
    this.ensure(1)
    this.byte(value ? 0xc3 : 0xc2)
  }

  number(value: number): void {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) this.integer(value)
    else this.float(value)
  }

  private float(value: number): void {
    this.ensure(9)
    this.byte(0xcb)
    this.view.setFloat64(this.position, value)
    this.position += 8
  }

  private integer(value: number): void {
    this.ensure(9)
    if (value >= 0) {
      if (value < 0x80) this.byte(value)
      else if (value < 0x100) {
        this.byte(0xcc)
        this.byte(value)
      } else if (value < 0x10000) {
        this.byte(0xcd)
        this.view.setUint16(this.position, value)
        this.position += 2
      } else if (value < 0x100000000) {
        this.byte(0xce)
        this.view.setUint32(this.position, value)
        this.position += 4
      } else {
        this.byte(0xcf)
        this.view.setBigUint64(this.position, BigInt(value))
        this.position += 8
      }
    } else {
      if (value >= -32) this.byte(value & 0xff)
      else if (value >= -0x80) {
        this.byte(0xd0)
        this.view.setInt8(this.position++, value)
      } else if (value >= -0x8000) {
        this.byte(0xd1)
        this.view.setInt16(this.position, value)
        this.position += 2
      } else if (value >= -0x80000000) {
        this.byte(0xd2)
        this.view.setInt32(this.position, value)
        this.position += 4
      } else {
        this.byte(0xd3)
        this.view.setBigInt64(this.position, BigInt(value))
        this.position += 8
      }
    }
  }

  bigint(value: bigint): void {
    if (value >= SAFE_MIN_BIG && value <= SAFE_MAX_BIG) return this.integer(Number(value))
    this.ensure(9)
    if (value >= 0n) {
      this.byte(0xcf)
      this.view.setBigUint64(this.position, value)
    } else {
      this.byte(0xd3)
      this.view.setBigInt64(this.position, value)
    }
    this.position += 8
  }

  string(value: string): void {
    const length = value.length
    // Fast path: short ASCII strings, written directly behind a fixstr header.
    if (length < 32) {
      this.ensure(1 + length)
      const start = this.position
      let i = 0
      for (; i < length; i++) {
        const code = value.charCodeAt(i)
        if (code >= 0x80) break
        this.buffer[start + 1 + i] = code
      }
      if (i === length) {
        this.buffer[start] = 0xa0 | length
        this.position = start + 1 + length
        return
      }
    }
    // Write the UTF-8 bytes behind room for the header their largest possible size needs (3 bytes
    // per UTF-16 unit), then write the header their actual size needs, moving them if it is
    // shorter: one pass over the string instead of measuring it first.
    const maxSize = length * 3
    const room = headerSize(maxSize)
    this.ensure(room + maxSize)
    const start = this.position
    const size = this.buffer.write(value, start + room, maxSize, "utf8")
    const header = headerSize(size)
    if (header !== room) this.buffer.copyWithin(start + header, start + room, start + room + size)
    if (size < 32) this.buffer[start] = 0xa0 | size
    else if (size < 0x100) {
      this.buffer[start] = 0xd9
      this.buffer[start + 1] = size
    } else if (size < 0x10000) {
      this.buffer[start] = 0xda
      this.view.setUint16(start + 1, size)
    } else {
      this.buffer[start] = 0xdb
      this.view.setUint32(start + 1, size)
    }
    this.position = start + header + size
  }

  bytes(value: Uint8Array): void {
    const size = value.length
    this.ensure(5 + size)
    if (size < 0x100) {
      this.byte(0xc4)
      this.byte(size)
    } else if (size < 0x10000) {
      this.byte(0xc5)
      this.view.setUint16(this.position, size)
      this.position += 2
    } else {
      this.byte(0xc6)
      this.view.setUint32(this.position, size)
      this.position += 4
    }
    this.buffer.set(value, this.position)
    this.position += size
  }

  arrayHeader(size: number): void {
    this.ensure(5)
    if (size < 16) this.byte(0x90 | size)
    else if (size < 0x10000) {
      this.byte(0xdc)
      this.view.setUint16(this.position, size)
      this.position += 2
    } else {
      this.byte(0xdd)
      this.view.setUint32(this.position, size)
      this.position += 4
    }
  }

  mapHeader(size: number): void {
    this.ensure(5)
    if (size < 16) this.byte(0x80 | size)
    else if (size < 0x10000) {
      this.byte(0xde)
      this.view.setUint16(this.position, size)
      this.position += 2
    } else {
      this.byte(0xdf)
      this.view.setUint32(this.position, size)
      this.position += 4
    }
  }

  /** Writes any value that passed message validation. */
  value(value: unknown): void {
    switch (typeof value) {
      case "string":
        return this.string(value)
      case "number":
        return this.number(value)
      case "boolean":
        return this.boolean(value)
      case "bigint":
        return this.bigint(value)
      case "object": {
        if (value === null) return this.nil()
        if (value instanceof Uint8Array) return this.bytes(value)
        if (Array.isArray(value)) {
          this.arrayHeader(value.length)
          for (const item of value) this.value(item)
          return
        }
        const keys = Object.keys(value)
        this.mapHeader(keys.length)
        for (const key of keys) {
          this.string(key)
          this.value((value as Record<string, unknown>)[key])
        }
        return
      }
      default:
        throw new MsgpackError(`cannot encode a ${typeof value}`)
    }
  }
}

/** Strings up to this many bytes go through the short-string cache of `Reader`. */
const SHORT_MAX = 24
const SHORT_CACHE_SIZE = 1024
const shortCache: Array<string | undefined> = new Array(SHORT_CACHE_SIZE)
/**
 * Decodes UTF-8 and throws on anything that is not well-formed (overlong forms, surrogates,
 * stray continuation bytes, cut-short sequences) instead of putting U+FFFD in its place. A leading
 * U+FEFF is kept: it is text, not a byte order mark, inside a msgpack string.
 */
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * Where the UTF-8 of `bytes[start, end)` first goes wrong and how (the error path only: the
 * decoder said it does).
 */
const utf8Problem = (bytes: Uint8Array, start: number, end: number): [number, string] => {
  let i = start
  while (i < end) {
    const lead = bytes[i]
    if (lead < 0x80) {
      i++
      continue
    }
    let needed: number
    let low = 0x80
    let high = 0xbf
    if (lead < 0xc0) return [i, "a continuation byte (0x80-0xbf) without a lead byte"]
    if (lead < 0xc2) return [i, "an overlong encoding of an ASCII character"]
    if (lead < 0xe0) needed = 1
    else if (lead < 0xf0) {
      needed = 2
      if (lead === 0xe0) low = 0xa0
      if (lead === 0xed) high = 0x9f
    } else if (lead < 0xf5) {
      needed = 3
      if (lead === 0xf0) low = 0x90
      if (lead === 0xf4) high = 0x8f
    } else {
      return [i, `the byte 0x${lead.toString(16)}, which never appears in UTF-8`]
    }
    const second = bytes[i + 1]
    if (i + 1 < end && second >= 0x80 && second <= 0xbf && (second < low || second > high)) {
      return [
        i,
        lead === 0xed
          ? "a UTF-16 surrogate encoded as UTF-8"
          : lead === 0xf4
          ? "a code point above U+10FFFF"
          : "an overlong encoding"
      ]
    }
    for (let k = 1; k <= needed; k++) {
      if (i + k >= end) return [i, "a multi-byte sequence cut short by the end of the string"]
      const next = bytes[i + k]
      if (next < 0x80 || next > 0xbf) {
        return [i, `a multi-byte sequence cut short (the byte 0x${next.toString(16)} is not a continuation byte)`]
      }
    }
    i += needed + 1
  }
  return [start, "not well-formed"]
}

/** Takes a map entry out of the map being read (returns `true`) or leaves it in. */
export type SetAside = (key: string, value: unknown) => boolean

/** Reads one msgpack value from a byte array. */
export class Reader {
  private position = 0
  private dataView: DataView | undefined = undefined
  private buffer: Buffer | undefined = undefined

  constructor(private readonly bytes: Uint8Array) {}

  /** A DataView of the bytes, made when a multi-byte number is first read. */
  private get view(): DataView {
    return this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
  }

  /** A Buffer view of the bytes, made when a long string is first read (strings are decoded from it). */
  private get text(): Buffer {
    return this.buffer ??= Buffer.isBuffer(this.bytes)
      ? this.bytes
      : Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
  }

  get atEnd(): boolean {
    return this.position === this.bytes.length
  }

  private need(count: number): void {
    if (this.position + count > this.bytes.length) {
      throw new MsgpackError(`truncated: needed ${count} more bytes at offset ${this.position}`)
    }
  }

  private u8(): number {
    this.need(1)
    return this.bytes[this.position++]
  }

  private u16(): number {
    this.need(2)
    const value = this.view.getUint16(this.position)
    this.position += 2
    return value
  }

  private u32(): number {
    this.need(4)
    const value = this.view.getUint32(this.position)
    this.position += 4
    return value
  }

  private int64(signed: boolean): number | bigint {
    this.need(8)
    const value = signed ? this.view.getBigInt64(this.position) : this.view.getBigUint64(this.position)
    this.position += 8
    return value >= SAFE_MIN_BIG && value <= SAFE_MAX_BIG ? Number(value) : value
  }

  private str(size: number): string {
    this.need(size)
    const start = this.position
    this.position += size
    if (size <= SHORT_MAX) {
      // Short ASCII strings (map keys, types, names) come back from a cache: the same few repeat
      // in every message, and building them char by char made garbage on every decode. ASCII is
      // valid UTF-8; anything else goes to the validating decoder, as longer strings do (a scan
      // for ASCII in JavaScript costs more than it saves there).
      const bytes = this.bytes
      let hash = size
      for (let i = start; i < start + size; i++) {
        const code = bytes[i]
        if (code >= 0x80) return this.utf8(start, size)
        hash = (Math.imul(hash, 31) + code) | 0
      }
      const slot = hash & (SHORT_CACHE_SIZE - 1)
      const cached = shortCache[slot]
      if (cached !== undefined && cached.length === size) {
        let same = true
        for (let i = 0; i < size; i++) {
          if (cached.charCodeAt(i) !== bytes[start + i]) {
            same = false
            break
          }
        }
        if (same) return cached
      }
      const out = size === 0 ? "" : this.text.toString("latin1", start, start + size)
      shortCache[slot] = out
      return out
    }
    return this.utf8(start, size)
  }

  /** A string other than a short ASCII one: well-formed UTF-8, or a `MsgpackError` saying where not. */
  private utf8(start: number, size: number): string {
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, start + size))
    } catch {
      const [offset, problem] = utf8Problem(this.bytes, start, start + size)
      throw new MsgpackError(`invalid UTF-8 in a string at byte ${offset}: ${problem}`)
    }
  }

  private bin(size: number): Uint8Array {
    this.need(size)
    // A copy into a plain Uint8Array: `slice` of a Buffer (amqplib's frames) would share memory.
    const out = new Uint8Array(size)
    out.set(this.bytes.subarray(this.position, this.position + size))
    this.position += size
    return out
  }

  private array(size: number, depth: number): Array<unknown> {
    this.need(size) // every element takes at least one byte: rejects absurd sizes before allocating
    const out = new Array(size)
    for (let i = 0; i < size; i++) out[i] = this.value(depth + 1)
    return out
  }

  private map(size: number, depth: number, aside?: SetAside): Record<string, unknown> {
    this.need(size * 2)
    const out: Record<string, unknown> = {}
    for (let i = 0; i < size; i++) {
      const key = this.value(depth + 1)
      if (typeof key !== "string") throw new MsgpackError(`a map key is ${typeof key}, not a string`)
      const value = this.value(depth + 1)
      if (aside !== undefined && aside(key, value)) continue
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
      } else {
        out[key] = value
      }
    }
    return out
  }

  /**
   * Reads one value, as `value` does; when it is a map, the entries `aside` takes (returns `true`
   * for) are left out of it. `undefined` when the value is not a map (it is read all the same).
   */
  mapSettingAside(aside: SetAside): Record<string, unknown> | undefined {
    if (this.position < this.bytes.length) {
      const head = this.bytes[this.position]
      if (head >= 0x80 && head < 0x90) {
        this.position++
        return this.map(head & 0x0f, 0, aside)
      }
      if (head === 0xde) {
        this.position++
        return this.map(this.u16(), 0, aside)
      }
      if (head === 0xdf) {
        this.position++
        return this.map(this.u32(), 0, aside)
      }
    }
    this.value()
    return undefined
  }

  value(depth = 0): unknown {
    if (depth > MAX_DEPTH) throw new MsgpackError(`nested deeper than ${MAX_DEPTH} levels`)
    const head = this.u8()
    if (head < 0x80) return head
    if (head < 0x90) return this.map(head & 0x0f, depth)
    if (head < 0xa0) return this.array(head & 0x0f, depth)
    if (head < 0xc0) return this.str(head & 0x1f)
    if (head >= 0xe0) return head - 0x100
    switch (head) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xc4:
        return this.bin(this.u8())
      case 0xc5:
        return this.bin(this.u16())
      case 0xc6:
        return this.bin(this.u32())
      case 0xca: {
        this.need(4)
        const value = this.view.getFloat32(this.position)
        this.position += 4
        return value
      }
      case 0xcb: {
        this.need(8)
        const value = this.view.getFloat64(this.position)
        this.position += 8
        return value
      }
      case 0xcc:
        return this.u8()
      case 0xcd:
        return this.u16()
      case 0xce:
        return this.u32()
      case 0xcf:
        return this.int64(false)
      case 0xd0: {
        const value = this.u8()
        return value >= 0x80 ? value - 0x100 : value
      }
      case 0xd1: {
        const value = this.u16()
        return value >= 0x8000 ? value - 0x10000 : value
      }
      case 0xd2: {
        this.need(4)
        const value = this.view.getInt32(this.position)
        this.position += 4
        return value
      }
      case 0xd3:
        return this.int64(true)
      case 0xd9:
        return this.str(this.u8())
      case 0xda:
        return this.str(this.u16())
      case 0xdb:
        return this.str(this.u32())
      case 0xdc:
        return this.array(this.u16(), depth)
      case 0xdd:
        return this.array(this.u32(), depth)
      case 0xde:
        return this.map(this.u16(), depth)
      case 0xdf:
        return this.map(this.u32(), depth)
      default:
        throw new MsgpackError(`unsupported msgpack type 0x${head.toString(16)} at offset ${this.position - 1}`)
    }
  }
}
