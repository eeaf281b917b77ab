/**
 * What a channel layer message is: a plain object with a string `type`, carrying only values that
 * msgpack and Python's msgpack agree on. Messages are validated and copied on the way in, so a
 * sender and a receiver never share an object.
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import { InvalidMessage } from "./Errors.js"

/**
 * A value a message may carry. Integers in the safe range are numbers; integers beyond it are
 * bigints (msgpack int64, or uint64 for values from 2^63 to 2^64-1, which Python sends too).
 *
 * @since 0.1.0
 * @category models
 */
export type MessageValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ReadonlyArray<MessageValue>
  | { readonly [key: string]: MessageValue }

/**
 * A channel layer message. `type` names the handler (`chat.message` -> `chat_message`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly type: string
  readonly [key: string]: MessageValue
}

/**
 * Top-level keys starting with this prefix are reserved for the transports' envelopes
 * (`__asgi_channel__`, `__asgi_group__`, and the ZeroMQ transport's expiry deadline).
 *
 * @since 0.1.0
 * @category constants
 */
export const RESERVED_KEY_PREFIX = "__asgi_"

/**
 * How deeply arrays and objects may nest inside a message.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_DEPTH = 100

// What msgpack integers can hold: int64 below zero, uint64 above.
const INTEGER_MIN = -(2n ** 63n)
const INTEGER_MAX = 2n ** 64n - 1n
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER)
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER)

/** Thrown while copying; each enclosing level adds its key to `path` on the way out. */
class Rejection {
  readonly path: Array<string | number>
  constructor(readonly reason: string, ...path: Array<string | number>) {
    this.path = path
  }
}

const formatPath = (path: ReadonlyArray<string | number>): string => {
  let out = "$"
  for (const segment of path) {
    out += typeof segment === "number"
      ? `[${segment}]`
      : /^[A-Za-z_$][\w$]*$/.test(segment)
      ? `.${segment}`
      : `[${JSON.stringify(segment)}]`
  }
  return out
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Sets `key` as an own data property, also when it is `__proto__`. */
const define = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    target[key] = value
  }
}

const LONE_SURROGATE = "a string with a lone UTF-16 surrogate has no UTF-8 form (Python refuses it too)"

const describe = (value: unknown): string => {
  if (typeof value === "object" && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name
    return name ? `an instance of ${name}` : "an object with a custom prototype"
  }
  return typeof value
}

const ALLOWED =
  "allowed are null, booleans, numbers, bigints from -2^63 to 2^64-1, strings, Uint8Array, arrays and plain objects"

/** What a getter or proxy trap threw, for a reason: its `String`, or what it is when that throws too. */
const showThrown = (thrown: unknown): string => {
  try {
    return String(thrown)
  } catch {
    return `${typeof thrown} that cannot be turned into a string`
  }
}

/**
 * The rejection for something user code threw while a value was being read: a getter, or a trap
 * of a proxy (`get`, `ownKeys`, `getPrototypeOf`, ...). Rejections from below pass unchanged.
 */
const asRejection = (error: unknown, doing: string): Rejection =>
  error instanceof Rejection ? error : new Rejection(`a getter or proxy trap threw ${doing}: ${showThrown(error)}`)

/**
 * Which part of `value` threw something other than a rejection while it was being copied (the
 * error path only: the copy itself reads each value once, without a `try` of its own). Whatever
 * threw was `value`'s own: its prototype, its keys (a proxy's `getPrototypeOf` or `ownKeys` trap)
 * or one of its own properties (a getter, a proxy's `get` trap), since a child's failure arrives
 * as a rejection. So it is read again, step by step, and the first step that throws names the
 * place; if none throws this time, the value itself is named.
 */
const locateThrow = (value: unknown, error: unknown): Rejection => {
  if (typeof value !== "object" || value === null) return asRejection(error, "inspecting this value")
  let keys: Array<string | symbol>
  let isArray: boolean
  try {
    Object.getPrototypeOf(value)
    isArray = Array.isArray(value)
  } catch {
    return asRejection(error, "inspecting this value")
  }
  try {
    keys = Reflect.ownKeys(value)
  } catch {
    return asRejection(error, "listing this object's keys")
  }
  for (const key of keys) {
    try {
      if (Reflect.getOwnPropertyDescriptor(value, key)?.enumerable === true) Reflect.get(value, key)
    } catch {
      const rejection = asRejection(error, "reading this value")
      if (typeof key === "string") rejection.path.push(isArray && /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key)
      return rejection
    }
  }
  return asRejection(error, "inspecting this value")
}

/**
 * Copies one child value, adding its key to the path of a rejection from below. Anything else
 * thrown below (a getter or proxy trap of this value itself) becomes a rejection here.
 */
const copyChild = (value: unknown, key: string | number, ancestors: Array<object>): MessageValue => {
  try {
    return copyValue(value, ancestors)
  } catch (error) {
    const rejection = error instanceof Rejection ? error : locateThrow(value, error)
    rejection.path.unshift(key)
    throw rejection
  }
}

/**
 * Copies a plain object. The spread copies the whole shape in one step (V8 clones the hidden
 * class: a tenth of the cost of adding the keys one by one, and the hot path of every send); the
 * loop then checks each key and value, and puts copies in place of the values that need one
 * (nested objects and arrays, bytes, safe-range bigints). Symbol-keyed properties are not message
 * content: the spread keeps them on a local copy, encoding transports leave them out. With
 * `topLevel`, keys in the envelope's reserved namespace are refused.
 */
const copyObject = (value: object, ancestors: Array<object>, topLevel: boolean): Record<string, MessageValue> => {
  const object: Record<string, unknown> = { ...value }
  const keys = Object.keys(object)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (topLevel && key.startsWith(RESERVED_KEY_PREFIX)) {
      throw new Rejection(`keys starting with "${RESERVED_KEY_PREFIX}" are reserved for the transport envelope`, key)
    }
    if (!key.isWellFormed()) throw new Rejection(`the key ${JSON.stringify(key)}: ${LONE_SURROGATE}`)
    const child = object[key]
    if (typeof child === "string") {
      if (!child.isWellFormed()) throw new Rejection(LONE_SURROGATE, key)
    } else if (typeof child !== "number" && typeof child !== "boolean" && child !== null) {
      const copied = copyChild(child, key, ancestors)
      if (copied !== child) define(object, key, copied)
    }
  }
  return object as Record<string, MessageValue>
}

/**
 * Validates and deep-copies one value. `ancestors` holds the objects being copied above it, to
 * detect cycles (a short array: messages are shallow, and the depth is limited).
 */
const copyValue = (value: unknown, ancestors: Array<object>): MessageValue => {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) throw new Rejection(LONE_SURROGATE)
      return value
    case "boolean":
    case "number":
      return value
    case "bigint": {
      if (value < INTEGER_MIN || value > INTEGER_MAX) {
        throw new Rejection(`bigint ${value} does not fit a msgpack integer (-2^63 to 2^64-1)`)
      }
      return value >= SAFE_MIN && value <= SAFE_MAX ? Number(value) : value
    }
    case "object": {
      if (value === null) return null
      if (value instanceof Uint8Array) {
        if (value.constructor !== Uint8Array && !Buffer.isBuffer(value)) {
          throw new Rejection(`${describe(value)} is not allowed; ${ALLOWED}`)
        }
        return new Uint8Array(value)
      }
      if (ancestors.includes(value)) throw new Rejection("the message contains a cycle")
      if (ancestors.length >= MAX_DEPTH) throw new Rejection(`nested deeper than ${MAX_DEPTH} levels`)
      ancestors.push(value)
      let out: MessageValue
      if (Array.isArray(value)) {
        const array: Array<MessageValue> = new Array(value.length)
        for (let i = 0; i < value.length; i++) array[i] = copyChild(value[i], i, ancestors)
        out = array
      } else if (isPlainObject(value)) {
        out = copyObject(value, ancestors, false)
      } else {
        throw new Rejection(`${describe(value)} is not allowed; ${ALLOWED}`)
      }
      ancestors.pop()
      return out
    }
    case "undefined":
      throw new Rejection(`undefined is not allowed (use null, or leave the key out); ${ALLOWED}`)
    default:
      throw new Rejection(`a ${typeof value} is not allowed; ${ALLOWED}`)
  }
}

/**
 * Validates `input` as a message and returns a deep copy of it, or the `InvalidMessage` that says
 * where and what is wrong. Bigints in the safe integer range become numbers, Buffers become plain
 * Uint8Arrays, so every transport delivers the same values. Symbol-keyed properties are not
 * message content: the copy carries them over unchecked (the in-memory layer delivers them), the
 * transports that encode leave them out. A getter or proxy trap that throws while the message is
 * read is an `InvalidMessage` too, at the path that threw, with what it threw in the reason.
 *
 * @since 0.1.0
 * @category validation
 */
export const copy = (input: unknown): Either.Either<Message, InvalidMessage> => {
  // Every step below may run user code (a getter, a proxy trap): what it throws becomes the
  // InvalidMessage of the place that threw (see `locateThrow`), never a defect.
  try {
    if (typeof input !== "object" || input === null || Array.isArray(input) || !isPlainObject(input)) {
      return Either.left(
        new InvalidMessage({ path: "$", reason: `a message must be a plain object, got ${describe(input)}` })
      )
    }
    const type = (input as Record<string, unknown>).type
    if (typeof type !== "string") {
      return Either.left(
        new InvalidMessage({ path: "$.type", reason: `a message needs a string "type", got ${describe(type)}` })
      )
    }
    return Either.right(copyObject(input, [input], true) as Message)
  } catch (error) {
    const rejection = error instanceof Rejection ? error : locateThrow(input, error)
    return Either.left(new InvalidMessage({ path: formatPath(rejection.path), reason: rejection.reason }))
  }
}

/**
 * Validates and copies a message as an Effect.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (input: unknown): Effect.Effect<Message, InvalidMessage> => copy(input)

const cloneTrusted = (value: MessageValue): MessageValue => {
  if (typeof value !== "object" || value === null) return value
  if (value instanceof Uint8Array) return value.slice()
  if (Array.isArray(value)) return value.map(cloneTrusted)
  // As in `copyObject`: clone the shape at once, then replace what is not a primitive.
  const out: Record<string, MessageValue> = { ...(value as Record<string, MessageValue>) }
  const keys = Object.keys(out)
  for (let i = 0; i < keys.length; i++) {
    const child = out[keys[i]]
    if (typeof child === "object" && child !== null) define(out, keys[i], cloneTrusted(child))
  }
  return out
}

/**
 * A deep copy of a message that is already known to be valid (no checks), for handing one
 * delivery to several local group members without aliasing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (message: Message): Message => cloneTrusted(message) as Message
