import type { Message } from "@channel-layer/core/Message"
import fc from "fast-check"

const INT64_MIN = -(2n ** 63n)
const UINT64_MAX = 2n ** 64n - 1n

/** Any value a message may carry, in the form the layer delivers it. */
export const arbitraryValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: false }),
    // Bigints only beyond the safe range: inside it the layer delivers numbers.
    fc.oneof(
      fc.bigInt({ min: INT64_MIN, max: BigInt(Number.MIN_SAFE_INTEGER) - 1n }),
      fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: UINT64_MAX })
    ),
    fc.string(),
    fc.fullUnicodeString(),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie("value"), { maxKeys: 5 })
  )
})).value

/** A message: a string `type` and any other non-reserved keys. */
export const arbitraryMessage: fc.Arbitrary<Message> = fc
  .record({
    type: fc.string(),
    rest: fc.dictionary(fc.string().filter((key) => !key.startsWith("__asgi_") && key !== "type"), arbitraryValue, {
      maxKeys: 6
    })
  })
  .map(({ rest, type }) => ({ type, ...rest }) as Message)
