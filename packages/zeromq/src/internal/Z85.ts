/**
 * Z85, the text encoding of CURVE keys (ZeroMQ RFC 32): 5 characters for every 4 bytes.
 *
 * @since 0.1.0
 */

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
const VALUES = new Map([...ALPHABET].map((char, index) => [char, index]))

/**
 * The Z85 text of some bytes (their length must be a multiple of 4).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    let value = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3]
    let chunk = ""
    for (let j = 0; j < 5; j++) {
      chunk = ALPHABET[value % 85] + chunk
      value = Math.floor(value / 85)
    }
    out += chunk
  }
  return out
}

/**
 * The bytes of a Z85 text, or `undefined` when it is not Z85 (length not a multiple of 5, a
 * character outside the alphabet, a group above 2^32 - 1).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string): Uint8Array | undefined => {
  if (text.length % 5 !== 0) return undefined
  const out = new Uint8Array((text.length / 5) * 4)
  for (let i = 0; i < text.length; i += 5) {
    let value = 0
    for (let j = 0; j < 5; j++) {
      const digit = VALUES.get(text[i + j])
      if (digit === undefined) return undefined
      value = value * 85 + digit
    }
    if (value > 0xffffffff) return undefined
    const at = (i / 5) * 4
    out[at] = (value >>> 24) & 0xff
    out[at + 1] = (value >>> 16) & 0xff
    out[at + 2] = (value >>> 8) & 0xff
    out[at + 3] = value & 0xff
  }
  return out
}

/**
 * Whether a text is a CURVE key: 40 Z85 characters (32 bytes).
 *
 * @since 0.1.0
 * @category validation
 */
export const isCurveKey = (text: unknown): text is string =>
  typeof text === "string" && text.length === 40 && decode(text) !== undefined
