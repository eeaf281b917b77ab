import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import * as CommandLine from "../src/CommandLine.js"

const millis = (text: string) => Either.map(CommandLine.parseDuration(text), Duration.toMillis)

describe("CommandLine.parseDuration", () => {
  it("reads the short forms: ms, s, m, h", () => {
    expect(millis("500ms")).toStrictEqual(Either.right(500))
    expect(millis("2s")).toStrictEqual(Either.right(2_000))
    expect(millis("1.5s")).toStrictEqual(Either.right(1_500))
    expect(millis("1m")).toStrictEqual(Either.right(60_000))
    expect(millis("2 h")).toStrictEqual(Either.right(7_200_000))
  })

  it("reads Effect's long forms and a bare number of milliseconds", () => {
    expect(millis("2 seconds")).toStrictEqual(Either.right(2_000))
    expect(millis("500 millis")).toStrictEqual(Either.right(500))
    expect(millis("1 minute")).toStrictEqual(Either.right(60_000))
    expect(millis("250")).toStrictEqual(Either.right(250))
    expect(millis("0")).toStrictEqual(Either.right(0))
  })

  it("refuses anything else and says what it accepts", () => {
    for (const text of ["soon", "", "-1s", "2x", "s", "2 sec", "1e3", "Infinity", "2s5"]) {
      expect(CommandLine.parseDuration(text)).toStrictEqual(
        Either.left(
          `${JSON.stringify(text)} is not a duration: write 500ms, 2s, 1m, 1h, "2 seconds", "500 millis" ` +
            "or a number of milliseconds"
        )
      )
    }
  })

  it("a bare number keeps the option's old unit: milliseconds by default, or seconds", () => {
    expect(Either.map(CommandLine.parseDuration("30", "seconds"), Duration.toMillis)).toStrictEqual(
      Either.right(30_000)
    )
    expect(Either.map(CommandLine.parseDuration("500ms", "seconds"), Duration.toMillis)).toStrictEqual(
      Either.right(500)
    )
    expect(CommandLine.parseDuration("soon", "seconds")).toStrictEqual(
      Either.left(
        "\"soon\" is not a duration: write 500ms, 2s, 1m, 1h, \"2 seconds\", \"500 millis\" or a number of seconds"
      )
    )
  })
})
