/**
 * Fernet tokens (https://github.com/fernet/spec), as Python's `cryptography.fernet` makes and opens
 * them, with the keys channels_redis derives from its `symmetric_encryption_keys` setting.
 *
 * A token is the urlsafe base64 (with `=` padding) of
 *
 *     0x80 | timestamp (8 bytes, big-endian seconds) | IV (16) | AES-128-CBC ciphertext (PKCS#7) | HMAC-SHA256 (32)
 *
 * where the HMAC covers everything before it. A Fernet key is 32 bytes: the first 16 sign (HMAC), the
 * last 16 encrypt (AES). channels_redis does not use the configured secrets as keys: it takes the
 * SHA-256 of each (of its UTF-8, for a string) as the 32 key bytes, and a `MultiFernet` over the list:
 * it encrypts with the first key and opens a token with whichever key's signature matches. It opens
 * with a time to live of the layer's `expiry + 10` seconds.
 *
 * Opening checks what `cryptography` checks, in its order: urlsafe base64, the version byte, the
 * length, then (only with a time to live) that the token is not older than it nor made more than 60
 * seconds in the future, then the signature, then the padding. Any failure is an `InvalidToken`
 * whose `reason` says which (Python says only `InvalidToken`). Unlike Python, which drops characters
 * outside the alphabet before decoding, a token must be canonical urlsafe base64 (tokens are).
 *
 * @since 0.1.0
 */
import { Data, Either } from "effect"
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * A token that does not open: malformed, expired, from the future, signed by none of the keys, or
 * badly padded.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidToken extends Data.TaggedError("InvalidToken")<{ readonly reason: string }> {
  override get message(): string {
    return `invalid Fernet token: ${this.reason}`
  }
}

/**
 * A key that is not the urlsafe base64 of 32 bytes.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidFernetKey extends Data.TaggedError("InvalidFernetKey")<{ readonly reason: string }> {
  override get message(): string {
    return `invalid Fernet key: ${this.reason}`
  }
}

/**
 * The two halves of a Fernet key.
 *
 * @since 0.1.0
 * @category models
 */
export interface FernetKey {
  readonly signingKey: Uint8Array
  readonly encryptionKey: Uint8Array
}

/**
 * How many seconds in the future a token's timestamp may be when opened with a time to live
 * (`cryptography`'s `_MAX_CLOCK_SKEW`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CLOCK_SKEW = 60

const VERSION = 0x80
const HEADER = 1 + 8 + 16
const MAC = 32
const BLOCK = 16
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/

/** Python's `urlsafe_b64encode`: Node's base64url with the `=` padding it leaves out. */
const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url") +
  "=".repeat((3 - (bytes.length % 3)) % 3)

const fromBytes = (bytes: Uint8Array): FernetKey => ({
  signingKey: Uint8Array.prototype.slice.call(bytes, 0, 16),
  encryptionKey: Uint8Array.prototype.slice.call(bytes, 16, 32)
})

/**
 * The key channels_redis derives from one entry of `symmetric_encryption_keys`
 * (`RedisChannelLayer.make_fernet`): the SHA-256 of the secret (a string as its UTF-8).
 *
 * @since 0.1.0
 * @category keys
 */
export const deriveKey = (secret: string | Uint8Array): FernetKey =>
  fromBytes(createHash("sha256").update(typeof secret === "string" ? Buffer.from(secret, "utf8") : secret).digest())

/**
 * The keys of channels_redis's `MultiFernet` for `symmetric_encryption_keys`, in order (the first
 * encrypts).
 *
 * @since 0.1.0
 * @category keys
 */
export const deriveKeys = (secrets: ReadonlyArray<string | Uint8Array>): ReadonlyArray<FernetKey> =>
  secrets.map(deriveKey)

/**
 * A key in the form `Fernet.generate_key()` gives and `Fernet(key)` takes: the urlsafe base64 of 32
 * bytes.
 *
 * @since 0.1.0
 * @category keys
 */
export const keyFromBase64 = (key: string): Either.Either<FernetKey, InvalidFernetKey> => {
  if (!BASE64URL.test(key) || key.length % 4 !== 0) {
    return Either.left(new InvalidFernetKey({ reason: "not urlsafe base64" }))
  }
  const bytes = Buffer.from(key, "base64url")
  if (bytes.length !== 32) {
    return Either.left(new InvalidFernetKey({ reason: `${bytes.length} bytes, not 32` }))
  }
  return Either.right(fromBytes(bytes))
}

/**
 * The urlsafe base64 form of a key (what `keyFromBase64` reads).
 *
 * @since 0.1.0
 * @category keys
 */
export const keyToBase64 = (key: FernetKey): string => base64(Buffer.concat([key.signingKey, key.encryptionKey]))

/**
 * The current time as Fernet counts it: whole seconds since the epoch.
 *
 * @since 0.1.0
 */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/**
 * Makes a token (the ASCII bytes of its urlsafe base64, as Python's `encrypt` returns them). `now`
 * (whole seconds, default the current time) and `iv` (16 bytes, default random) are for tests.
 *
 * @since 0.1.0
 * @category encrypting
 */
export const encrypt = (
  key: FernetKey,
  plaintext: Uint8Array,
  options?: { readonly now?: number; readonly iv?: Uint8Array }
): Uint8Array => {
  const iv = options?.iv ?? randomBytes(16)
  if (iv.length !== 16) throw new RangeError(`the IV must be 16 bytes, not ${iv.length}`)
  const now = options?.now ?? nowSeconds()
  const cipher = createCipheriv("aes-128-cbc", key.encryptionKey, iv)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const body = Buffer.allocUnsafe(HEADER + ciphertext.length + MAC)
  body[0] = VERSION
  body.writeBigUInt64BE(BigInt(now), 1)
  body.set(iv, 9)
  body.set(ciphertext, HEADER)
  const mac = createHmac("sha256", key.signingKey).update(body.subarray(0, HEADER + ciphertext.length)).digest()
  body.set(mac, HEADER + ciphertext.length)
  return new Uint8Array(Buffer.from(base64(body), "ascii"))
}

/**
 * The time at which a token says it was made, in seconds since the epoch, without opening it
 * (`Fernet.extract_timestamp` checks the signature too; this does not).
 *
 * @since 0.1.0
 * @category decrypting
 */
export const unverifiedTimestamp = (token: Uint8Array | string): Either.Either<number, InvalidToken> =>
  Either.map(parse(token), (data) => Number(data.readBigUInt64BE(1)))

const invalid = (reason: string) => Either.left(new InvalidToken({ reason }))

const parse = (token: Uint8Array | string): Either.Either<Buffer, InvalidToken> => {
  const text = typeof token === "string"
    ? token
    : Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString("latin1")
  if (!BASE64URL.test(text) || text.length % 4 !== 0) return invalid("not urlsafe base64")
  const data = Buffer.from(text, "base64url")
  if (data.length === 0) return invalid("empty")
  if (data[0] !== VERSION) return invalid(`version byte 0x${data[0].toString(16)}, not 0x80`)
  if (data.length < 9) return invalid(`${data.length} bytes, too short for a timestamp`)
  return Either.right(data)
}

/**
 * Opens a token with the first of `keys` whose signature matches (Python's `MultiFernet.decrypt`;
 * one key is `Fernet.decrypt`). With `ttl` (seconds) a token older than that, or made more than
 * `MAX_CLOCK_SKEW` seconds after `now` (whole seconds, default the current time), is refused.
 *
 * @since 0.1.0
 * @category decrypting
 */
export const decrypt = (
  keys: FernetKey | ReadonlyArray<FernetKey>,
  token: Uint8Array | string,
  options?: { readonly ttl?: number | undefined; readonly now?: number }
): Either.Either<Uint8Array, InvalidToken> => {
  const parsed = parse(token)
  if (Either.isLeft(parsed)) return parsed
  const data = parsed.right
  const timestamp = Number(data.readBigUInt64BE(1))
  if (options?.ttl !== undefined) {
    const now = options.now ?? nowSeconds()
    if (timestamp + options.ttl < now) {
      return invalid(`expired: made at ${timestamp}, ${now - timestamp} s ago, time to live ${options.ttl} s`)
    }
    if (now + MAX_CLOCK_SKEW < timestamp) {
      return invalid(`made at ${timestamp}, ${timestamp - now} s in the future (more than ${MAX_CLOCK_SKEW} s of skew)`)
    }
  }
  const all = "signingKey" in keys ? [keys as FernetKey] : keys as ReadonlyArray<FernetKey>
  if (data.length < HEADER + MAC) return invalid(`${data.length} bytes, too short for an IV and a signature`)
  const signed = data.subarray(0, data.length - MAC)
  const signature = data.subarray(data.length - MAC)
  const key = all.find((candidate) =>
    timingSafeEqual(createHmac("sha256", candidate.signingKey).update(signed).digest(), signature)
  )
  if (key === undefined) {
    return invalid(
      all.length === 1 ? "the signature does not match the key" : `the signature matches none of the ${all.length} keys`
    )
  }
  const ciphertext = data.subarray(HEADER, data.length - MAC)
  if (ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) {
    return invalid(`a ciphertext of ${ciphertext.length} bytes, not a positive multiple of ${BLOCK}`)
  }
  try {
    const decipher = createDecipheriv("aes-128-cbc", key.encryptionKey, data.subarray(9, HEADER))
    return Either.right(new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()])))
  } catch {
    return invalid("bad padding after decryption")
  }
}
