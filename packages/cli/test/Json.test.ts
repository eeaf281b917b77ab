import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { Json } from "../src/index.js"

describe("Json", () => {
  it("reads and writes bytes and int64s through their tags", () => {
    const text =
      "{\"type\":\"t\",\"raw\":{\"$bytes\":\"AQID\"},\"big\":{\"$int\":\"9223372036854775807\"},\"n\":[1,null,\"s\"]}"
    const message = Either.getOrThrow(Json.parseMessage(text))
    expect(message.raw).toStrictEqual(new Uint8Array([1, 2, 3]))
    expect(message.big).toBe(9223372036854775807n)
    expect(Json.formatMessage(message)).toBe(text)
  })

  it("refuses what is not a message", () => {
    expect(Either.getLeft(Json.parseMessage("{")).pipe((e) => e._tag === "Some" && e.value.reason)).toContain(
      "not JSON"
    )
    expect(Either.isLeft(Json.parseMessage("{\"text\":\"no type\"}"))).toBe(true)
    expect(Either.isLeft(Json.parseMessage("[1]"))).toBe(true)
  })

  it("tags the floats JSON cannot write, so NaN is not mistaken for null", () => {
    const text = "{\"type\":\"t\",\"nan\":{\"$float\":\"NaN\"},\"inf\":{\"$float\":\"Infinity\"}," +
      "\"ninf\":{\"$float\":\"-Infinity\"},\"nzero\":{\"$float\":\"-0\"},\"none\":null}"
    const message = Either.getOrThrow(Json.parseMessage(text))
    expect(message.nan).toBeNaN()
    expect(message.inf).toBe(Infinity)
    expect(Object.is(message.nzero, -0)).toBe(true)
    expect(Json.formatMessage(message)).toBe(text)
  })
})
