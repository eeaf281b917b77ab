import { Message } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { arbitraryMessage } from "./support/arbitraries.js"

const rejection = (input: unknown) => {
  const result = Message.copy(input)
  if (Either.isRight(result)) throw new Error("expected InvalidMessage")
  return result.left
}

describe("Message", () => {
  it("copies every valid message deeply (property)", () => {
    fc.assert(
      fc.property(arbitraryMessage, (message) => {
        const copy = Either.getOrThrow(Message.copy(message))
        expect(copy).toStrictEqual(message)
        expect(copy).not.toBe(message)
      })
    )
  })

  it("shares no object or byte array with the input", () => {
    const bytes = new Uint8Array([1, 2])
    const input = { type: "t", nested: { list: [bytes] } }
    const copy = Either.getOrThrow(Message.copy(input)) as any
    expect(copy.nested).not.toBe(input.nested)
    expect(copy.nested.list).not.toBe(input.nested.list)
    expect(copy.nested.list[0]).not.toBe(bytes)
    bytes[0] = 9
    expect(copy.nested.list[0][0]).toBe(1)
  })

  it("accepts the uint64 range that Python sends (2^63 to 2^64-1)", () => {
    const copy = Either.getOrThrow(Message.copy({ type: "t", top: 2n ** 64n - 1n, low: -(2n ** 63n) })) as any
    expect(copy.top).toBe(2n ** 64n - 1n)
  })

  it("turns Buffers into plain Uint8Arrays and safe bigints into numbers", () => {
    const copy = Either.getOrThrow(Message.copy({ type: "t", b: Buffer.from([7]), n: 5n, big: 2n ** 62n })) as any
    expect(copy.b.constructor).toBe(Uint8Array)
    expect(copy.n).toBe(5)
    expect(copy.big).toBe(2n ** 62n)
  })

  it("accepts objects without a prototype", () => {
    const input = Object.assign(Object.create(null), { type: "t", x: 1 })
    expect(Either.isRight(Message.copy(input))).toBe(true)
  })

  it("says where and what is wrong", () => {
    expect(rejection(null).message).toBe("invalid message at $: a message must be a plain object, got object")
    expect(rejection(new (class Event {})()).reason).toBe("a message must be a plain object, got an instance of Event")
    expect(rejection({ type: 1 }).message).toBe(
      "invalid message at $.type: a message needs a string \"type\", got number"
    )
    expect(rejection({ type: "t", a: { "b c": [0, new Date(0)] } }).path).toBe("$.a[\"b c\"][1]")
    expect(rejection({ type: "t", a: new Date(0) }).reason).toMatch(
      /an instance of Date is not allowed; allowed are null/
    )
    expect(rejection({ type: "t", a: new Int16Array(1) }).reason).toMatch(/an instance of Int16Array is not allowed/)
    expect(rejection({ type: "t", a: undefined }).reason).toMatch(/undefined is not allowed \(use null/)
    expect(rejection({ type: "t", a: () => 0 }).reason).toMatch(/a function is not allowed/)
    expect(rejection({ type: "t", a: -(2n ** 63n) - 1n }).reason).toMatch(/does not fit a msgpack integer/)
    expect(rejection({ type: "t", a: 2n ** 64n }).reason).toMatch(
      /does not fit a msgpack integer \(-2\^63 to 2\^64-1\)/
    )
    expect(rejection({ type: "t", a: "x\ud800y" }).reason).toMatch(/lone UTF-16 surrogate/)
    expect(rejection({ type: "t", ["k\udc00"]: 1 }).reason).toMatch(/the key .* lone UTF-16 surrogate/)
    expect(rejection({ type: "t", __asgi_x__: 1 }).reason).toMatch(/reserved for the transport envelope/)
  })

  it("rejects cycles and nesting deeper than the limit", () => {
    const cyclic: any = { type: "t", list: [] }
    cyclic.list.push(cyclic)
    expect(rejection(cyclic).reason).toBe("the message contains a cycle")
    let deep: any = 1
    for (let i = 0; i < Message.MAX_DEPTH + 1; i++) deep = [deep]
    expect(rejection({ type: "t", deep }).reason).toMatch(/nested deeper than/)
  })

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 }
    const copy = Either.getOrThrow(Message.copy({ type: "t", a: shared, b: shared })) as any
    expect(copy.a).toStrictEqual(copy.b)
    expect(copy.a).not.toBe(copy.b)
  })

  it("keeps a __proto__ key as data", () => {
    const input = JSON.parse("{\"type\":\"t\",\"__proto__\":{\"polluted\":true}}")
    const copy = Either.getOrThrow(Message.copy(input))
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toContain("__proto__")
    expect(Message.clone(copy)).toStrictEqual(copy)
    expect(Object.getPrototypeOf(Message.clone(copy))).toBe(Object.prototype)
  })

  it("turns a getter or proxy trap that throws into InvalidMessage naming the path and the error", () => {
    const getter = rejection({
      type: "x",
      get boom(): never {
        throw new Error("kaboom")
      }
    })
    expect(getter).toMatchObject({ _tag: "InvalidMessage", path: "$.boom" })
    expect(getter.reason).toMatch(/getter or proxy trap threw.*kaboom/)
    const nested = rejection({
      type: "x",
      a: {
        ok: 1,
        get b(): never {
          throw new TypeError("deep")
        }
      }
    })
    expect(nested).toMatchObject({ path: "$.a.b" })
    expect(nested.reason).toMatch(/TypeError: deep/)
    const list: Array<number> = [1, 2]
    Object.defineProperty(list, 1, {
      enumerable: true,
      get() {
        throw new Error("element")
      }
    })
    expect(rejection({ type: "x", list }).path).toBe("$.list[1]")
    expect(rejection({ type: "x", o: { list } }).path).toBe("$.o.list[1]")
    const thrower = (what: string) => () => {
      throw new Error(what)
    }
    const ownKeys = rejection(new Proxy({ type: "x" }, { ownKeys: thrower("no keys") }))
    expect(ownKeys.path).toBe("$")
    expect(ownKeys.reason).toMatch(/proxy trap threw.*no keys/)
    expect(rejection({ type: "x", a: { b: new Proxy({}, { ownKeys: thrower("no keys") }) } }).path).toBe("$.a.b")
    const get = rejection({ type: "x", a: new Proxy({ b: 1 }, { get: thrower("no get") }) })
    expect(get.path).toBe("$.a.b")
    expect(get.reason).toMatch(/no get/)
    expect(rejection(new Proxy({ type: "x" }, { get: thrower("no get") })).path).toBe("$.type")
    expect(rejection({ type: "x", list: new Proxy([1], { get: thrower("no get") }) }).path).toMatch(/^\$\.list/)
    const proto = rejection({ type: "x", a: [new Proxy({}, { getPrototypeOf: thrower("no proto") })] })
    expect(proto.path).toBe("$.a[0]")
    expect(proto.reason).toMatch(/proxy trap threw.*no proto/)
    expect(rejection(new Proxy({ type: "x" }, { getPrototypeOf: thrower("no proto") })).path).toBe("$")
    const { proxy, revoke } = Proxy.revocable({ type: "x" }, {})
    revoke()
    expect(rejection({ type: "x", revoked: proxy }).path).toBe("$.revoked")
    expect(
      rejection({
        type: "x",
        get s(): never {
          throw "a string"
        }
      }).reason
    ).toMatch(/a string/)
  })
})
