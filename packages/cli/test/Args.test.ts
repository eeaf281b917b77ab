import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { Args } from "../src/index.js"

const ok = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const parsed = Args.parse(argv, env)
  if (Either.isLeft(parsed)) throw new Error(`expected a command, got ${parsed.left.message}`)
  return parsed.right
}

const usage = (argv: ReadonlyArray<string>) => {
  const parsed = Args.parse(argv)
  if (Either.isRight(parsed)) throw new Error(`expected a usage error, got ${JSON.stringify(parsed.right)}`)
  return parsed.left.message
}

describe("Args.parse", () => {
  it("help with no arguments, --help, help COMMAND and COMMAND --help", () => {
    expect(ok([])).toStrictEqual({ _tag: "Help", command: undefined })
    expect(ok(["--help"])).toStrictEqual({ _tag: "Help", command: undefined })
    expect(ok(["help", "listen"])).toStrictEqual({ _tag: "Help", command: "listen" })
    expect(ok(["send", "-h"])).toStrictEqual({ _tag: "Help", command: "send" })
  })

  it("send and group-send take a target and a message; the transport defaults to rabbitmq", () => {
    const send = ok(["send", "specific.abc!def", "{\"type\":\"x\"}"])
    expect(send).toMatchObject({ _tag: "Send", channel: "specific.abc!def", message: "{\"type\":\"x\"}" })
    expect(send._tag === "Send" && send.options.transport).toBe("rabbitmq")
    expect(ok(["group-send", "lobby", "-"])).toMatchObject({ _tag: "GroupSend", group: "lobby", message: "-" })
  })

  it("the environment picks the transport and broker; flags win over it", () => {
    const env = { CHANNEL_LAYER: "zeromq", AMQP_URL: "amqp://u:p@h/v", ZMQ_PUSH: "tcp://a:1", ZMQ_SUB: "tcp://a:2" }
    expect(ok(["self-test"], env)).toMatchObject({
      options: { transport: "zeromq", urls: ["amqp://u:p@h/v"], zmqPush: "tcp://a:1", zmqSub: "tcp://a:2" }
    })
    expect(ok(["self-test", "--layer", "rabbitmq", "--url", "amqp://x", "--url", "amqp://y"], env)).toMatchObject({
      options: { transport: "rabbitmq", urls: ["amqp://x", "amqp://y"] }
    })
  })

  it("listen takes groups, a count and a timeout", () => {
    const listen = ok(["listen", "-g", "a", "--group", "b", "-n", "3", "--timeout", "2 seconds", "--prefix", "cli"])
    expect(listen).toMatchObject({ _tag: "Listen", groups: ["a", "b"], count: 3, prefix: "cli" })
    expect(listen._tag === "Listen" && Duration.toMillis(listen.timeout!)).toBe(2000)
    const millis = ok(["listen", "--timeout", "250"])
    expect(millis._tag === "Listen" && Duration.toMillis(millis.timeout!)).toBe(250)
  })

  it("says what is wrong", () => {
    expect(usage(["frobnicate"])).toContain("unknown command \"frobnicate\"")
    expect(usage(["send", "only-one"])).toContain("send takes CHANNEL and MESSAGE")
    expect(usage(["listen", "--count", "0"])).toContain("--count must be a positive integer")
    expect(usage(["listen", "--timeout", "soon"])).toContain("--timeout must be a duration")
    expect(usage(["send", "a", "b", "--group", "g"])).toContain("--group is an option of listen only")
    expect(usage(["self-test", "--layer", "redis"])).toContain("--layer must be one of memory, rabbitmq, zeromq")
    expect(usage(["listen", "--nope"])).toContain("--nope")
  })

  it("every command has a help text that names it", () => {
    for (const command of ["send", "group-send", "listen", "self-test"] as const) {
      expect(Args.help(command)).toContain(`channel-layer ${command}`)
    }
    expect(Args.help()).toContain("Commands:")
  })
})
