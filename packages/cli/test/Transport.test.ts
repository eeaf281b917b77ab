import { CliConfig, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import { Transport } from "../src/index.js"

/** The transport options of these arguments, with these environment variables (and no others). */
const parse = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Options.processCommandLine(Transport.options, args, CliConfig.defaultConfig).pipe(
    Effect.map(([, leftover, options]) => ({ leftover, options })),
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

describe("Transport.options", () => {
  it.effect("defaults: RabbitMQ at the layer's default URL, ZeroMQ embedded", () =>
    Effect.gen(function*() {
      const { options } = yield* parse([])
      expect(options).toStrictEqual({
        transport: "rabbitmq",
        urls: [],
        groupsExchange: Option.none(),
        wait: Option.none(),
        redisUrl: Option.none(),
        redisPrefix: Option.none(),
        zmqPush: Option.none(),
        zmqSub: Option.none(),
        zmqPublish: Option.none(),
        zmqSubscribe: []
      })
    }))

  it.effect("the environment picks the transport, broker and ZeroMQ addresses; flags win over it", () =>
    Effect.gen(function*() {
      const env = {
        CHANNEL_LAYER: "zeromq",
        AMQP_URL: "amqp://u:p,w@h/v",
        ZMQ_PUSH: "tcp://a:1",
        ZMQ_SUB: "tcp://a:2",
        ZMQ_SUBSCRIBE: "tcp://b:1, tcp://c:1,"
      }
      expect((yield* parse([], env)).options).toMatchObject({
        transport: "zeromq",
        urls: ["amqp://u:p,w@h/v"], // one URL: AMQP_URL is not split
        zmqPush: Option.some("tcp://a:1"),
        zmqSub: Option.some("tcp://a:2"),
        zmqSubscribe: ["tcp://b:1", "tcp://c:1"]
      })
      const flagged = yield* parse(
        [
          "--layer",
          "rabbitmq",
          "--url",
          "amqp://x",
          "--url",
          "amqp://y",
          "--zmq-subscribe",
          "tcp://d:1",
          "--wait",
          "2s"
        ],
        env
      )
      expect(flagged.options).toMatchObject({
        transport: "rabbitmq",
        urls: ["amqp://x", "amqp://y"],
        zmqSubscribe: ["tcp://d:1"]
      })
      expect(Option.map(flagged.options.wait, Duration.toMillis)).toStrictEqual(Option.some(2_000))
      expect((yield* parse([], { AMQP_URL: "" })).options.urls).toStrictEqual([])
    }))

  it.effect("Redis: REDIS_URL and REDIS_PREFIX, or --redis-url and --redis-prefix over them", () =>
    Effect.gen(function*() {
      const env = { CHANNEL_LAYER: "redis", REDIS_URL: "redis://:p@h:6380/2", REDIS_PREFIX: "chat" }
      expect((yield* parse([], env)).options).toMatchObject({
        transport: "redis",
        redisUrl: Option.some("redis://:p@h:6380/2"),
        redisPrefix: Option.some("chat")
      })
      const flagged = yield* parse(["--redis-url", "redis://x:6379/1", "--redis-prefix", "other"], env)
      expect(flagged.options).toMatchObject({
        transport: "redis",
        redisUrl: Option.some("redis://x:6379/1"),
        redisPrefix: Option.some("other")
      })
      expect((yield* parse(["--layer", "redis"])).options).toMatchObject({
        transport: "redis",
        redisUrl: Option.none(),
        redisPrefix: Option.none()
      })
    }))

  it.effect("says what is wrong with a value", () =>
    Effect.gen(function*() {
      const message = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
        parse(args, env).pipe(Effect.flip, Effect.map((error) => JSON.stringify(error)))
      expect(yield* message(["--layer", "kafka"])).toContain(
        "--layer: \\\"kafka\\\" is not one of memory, rabbitmq, redis, zeromq"
      )
      expect(yield* message(["--wait", "soon"])).toContain("--wait: \\\"soon\\\" is not a duration")
      expect(yield* message(["--layer", "zeromq", "--zmq-push", "tcp://a:1"])).toContain(
        "ZeroMQ's dedicated mode needs both --zmq-push and --zmq-sub"
      )
      expect(yield* message([], { CHANNEL_LAYER: "zeromq", ZMQ_SUB: "tcp://a:2" })).toContain(
        "needs both --zmq-push and --zmq-sub"
      )
      expect(yield* message([], { CHANNEL_LAYER: "kafka" })).toContain("CHANNEL_LAYER")
    }))
})
