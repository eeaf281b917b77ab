import { Errors } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Equal } from "effect"
import { channelFull } from "../src/internal/hotPath.js"

describe("channelFull (the hot path's shared ChannelFull)", () => {
  it("is a ChannelFull with the channel and capacity, and no stack frames", () => {
    const error = channelFull("room.inmemory!abc", 10)
    expect(error).toBeInstanceOf(Errors.ChannelFull)
    expect(error).toMatchObject({ _tag: "ChannelFull", channel: "room.inmemory!abc", capacity: 10 })
    expect(error.message).toBe("channel room.inmemory!abc is full (capacity 10)")
    expect(error.stack).not.toContain("\n    at ")
    expect(Equal.equals(error, new Errors.ChannelFull({ channel: "room.inmemory!abc", capacity: 10 }))).toBe(true)
  })

  it("gives the same instance while the same channel keeps failing, a new one for another", () => {
    const first = channelFull("a!1", 5)
    expect(channelFull("a!1", 5)).toBe(first)
    const other = channelFull("a!2", 5)
    expect(other).not.toBe(first)
    expect(other.channel).toBe("a!2")
    const otherCapacity = channelFull("a!2", 7)
    expect(otherCapacity.channel).toBe("a!2")
    expect(otherCapacity.capacity).toBe(7)
  })

  it("fails an Effect that catchTag handles", () => {
    const result = Effect.runSync(Effect.either(Effect.fail(channelFull("a!3", 1))))
    expect(Either.isLeft(result) && result.left._tag).toBe("ChannelFull")
    expect(Error.stackTraceLimit).toBeGreaterThan(0)
  })
})
