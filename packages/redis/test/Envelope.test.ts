import * as Codec from "@channel-layer/core/Codec"
import * as Metrics from "@channel-layer/core/Metrics"
import * as Warnings from "@channel-layer/core/Warnings"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Metric } from "effect"
import * as Envelope from "../src/internal/Envelope.js"
import { deriveKeys } from "../src/internal/Fernet.js"
import * as Options from "../src/internal/options.js"
import { deserialize, encodeBody, PREFIX_LENGTH, serialize } from "../src/internal/WireFormat.js"
import * as RedisMetrics from "../src/RedisMetrics.js"

const labels = Metrics.transportLabel("redis")
const count = (metric: typeof RedisMetrics.skippedMessages) =>
  Effect.map(Metric.value(Metric.tagged(metric, "transport", "redis")), (state) => state.count)

const make = (symmetricEncryptionKeys?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const options = yield* Options.resolve(symmetricEncryptionKeys === undefined ? {} : { symmetricEncryptionKeys })
    const warnings = yield* Warnings.make({})
    return Envelope.make(options, { warnings, labels })
  })

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const message = { type: "chat.message", text: "h\u00e9llo", n: 2n ** 63n }

describe("Envelope (core's bodies to channels_redis's members)", () => {
  it.scoped("direct sends: the channel on a process-specific send, none on a normal one", () =>
    Effect.gen(function*() {
      const envelope = yield* make()
      const specific = "specific.abc!def"
      const direct = envelope.direct(specific, Codec.encode(message, { channel: specific }))
      expect(hex(direct.subarray(PREFIX_LENGTH))).toBe(hex(encodeBody(message, specific)))
      const normal = envelope.direct("jobs", Codec.encode(message, { channel: "jobs" }))
      expect(hex(normal.subarray(PREFIX_LENGTH))).toBe(hex(encodeBody(message, undefined)))
      expect(envelope.open("asgijobs", normal)).toEqual({ message, channels: undefined })
      expect(envelope.open("asgispecific.abc!", direct)).toEqual({ message, channels: [specific] })
    }))

  it.scoped("group sends: one member per list, each with its __asgi_channel__ list", () =>
    Effect.gen(function*() {
      const envelope = yield* make()
      const lists = [["a.x!1", "a.x!2"], ["jobs"]]
      const members = envelope.group("room", Codec.encode(message, { group: "room" }), lists)
      expect(members.map((member) => hex(member.subarray(PREFIX_LENGTH)))).toEqual(
        lists.map((list) => hex(encodeBody(message, list)))
      )
      expect(envelope.open("asgia.x!", members[0])).toEqual({ message, channels: ["a.x!1", "a.x!2"] })
    }))

  it.scoped("sealed with the first key, opened with any; what does not open is counted, never thrown", () =>
    Effect.gen(function*() {
      const rotated = yield* make(["new", "old"])
      const old = yield* make(["old"])
      const plain = yield* make()
      const sealedNew = rotated.direct("jobs", Codec.encode(message, { channel: "jobs" }))
      expect(Buffer.from(sealedNew.subarray(PREFIX_LENGTH, PREFIX_LENGTH + 4)).toString("ascii")).toBe("gAAA")
      expect(Either.getOrThrow(deserialize(sealedNew, { keys: deriveKeys(["new"]) })).message).toEqual(message)
      const sealedOld = old.direct("jobs", Codec.encode(message, { channel: "jobs" }))
      expect(rotated.open("asgijobs", sealedOld)?.message).toEqual(message)

      const undecryptable = yield* count(RedisMetrics.undecryptableMessages)
      const skipped = yield* count(RedisMetrics.skippedMessages)
      expect(old.open("asgijobs", sealedNew)).toBeUndefined()
      expect(old.open("asgijobs", serialize(message, undefined))).toBeUndefined()
      expect((yield* count(RedisMetrics.undecryptableMessages)) - undecryptable).toBe(2)
      // A token read without keys is not msgpack; a short member is nothing at all.
      expect(plain.open("asgijobs", sealedNew)).toBeUndefined()
      expect(plain.open("asgijobs", new Uint8Array(3))).toBeUndefined()
      expect((yield* count(RedisMetrics.skippedMessages)) - skipped).toBe(2)
    }))
})
