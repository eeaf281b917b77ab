import { ChannelName } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"

const nameChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
const validGroup = fc.stringOf(nameChar, { minLength: 1, maxLength: 99 })
const validChannel = fc
  .tuple(fc.stringOf(nameChar, { minLength: 1, maxLength: 60 }), fc.option(fc.stringOf(nameChar, { maxLength: 38 })))
  .map(([head, tail]) => tail === null ? head : `${head}!${tail}`)

describe("ChannelName", () => {
  it("accepts every name the spec's grammar allows (property)", () => {
    fc.assert(fc.property(validChannel, (name) => ChannelName.channelNameProblem(name) === undefined))
    fc.assert(fc.property(validGroup, (name) => ChannelName.groupNameProblem(name) === undefined))
  })

  it("rejects any name with a character outside the grammar (property)", () => {
    const outside = fc.char16bits().filter((c) => !/[a-zA-Z\d\-_.!]/.test(c))
    fc.assert(
      fc.property(validGroup, outside, fc.nat(), (name, bad, at) => {
        const position = at % (name.length + 1)
        const broken = name.slice(0, position) + bad + name.slice(position)
        fc.pre(broken.length < 100)
        expect(ChannelName.channelNameProblem(broken)?._tag).toBe("InvalidChannelName")
        expect(ChannelName.groupNameProblem(broken)?._tag).toBe("InvalidGroupName")
      })
    )
  })

  it("rejects names of 100 characters or more, and says so", () => {
    expect(ChannelName.channelNameProblem("a".repeat(99))).toBeUndefined()
    expect(ChannelName.channelNameProblem("a".repeat(100))?.reason).toBe(
      "a channel name must be shorter than 100 characters, got 100"
    )
    expect(ChannelName.groupNameProblem("g".repeat(100))?.reason).toBe(
      "a group name must be shorter than 100 characters, got 100"
    )
  })

  it("rejects a group name with '!' and a channel name with two", () => {
    expect(ChannelName.groupNameProblem("a!b")?.reason).toMatch(/may contain only ASCII letters/)
    expect(ChannelName.channelNameProblem("a!b!c")?.reason).toMatch(/optionally followed by '!'/)
    expect(ChannelName.channelNameProblem("a!")).toBeUndefined()
    expect(ChannelName.channelNameProblem("!a")?._tag).toBe("InvalidChannelName")
  })

  it("rejects values that are not strings with a typed error naming the type", () =>
    Effect.runSync(Effect.gen(function*() {
      const error = yield* Effect.flip(ChannelName.validateChannel(42))
      expect(error.message).toBe("invalid channel name 42: a channel name must be a string, got number")
      const groupError = yield* Effect.flip(ChannelName.validateGroup(null))
      expect(groupError.reason).toBe("a group name must be a string, got null")
    })))

  it("makes process-local names from 12 CSPRNG letters", () => {
    const names = new Set(Array.from({ length: 1000 }, () => ChannelName.makeProcessLocal("p")))
    expect(names.size).toBe(1000)
    for (const name of names) {
      expect(name).toMatch(/^p![a-zA-Z]{12}$/)
      expect(ChannelName.isProcessLocal(name)).toBe(true)
      expect(ChannelName.routingPrefix(name)).toBe("p")
    }
    expect(ChannelName.routingPrefix("normal")).toBe("normal")
  })

  it("draws every letter about equally often", () => {
    const counts = new Map<string, number>()
    for (const char of ChannelName.randomLetters(52_000)) counts.set(char, (counts.get(char) ?? 0) + 1)
    expect(counts.size).toBe(52)
    for (const count of counts.values()) expect(count).toBeGreaterThan(700)
  })
})
