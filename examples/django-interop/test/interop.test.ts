/**
 * The Node side against a Python peer that speaks channels_rabbitmq's wire format, through the
 * RabbitMQ on 127.0.0.1 (vhost asgi). This checks the Node layer and the bot against the wire
 * format as the peer implements it; it does not run Django or channels_rabbitmq itself (see the
 * README for what is and is not tested).
 */
import type { Message } from "@channel-layer/core"
import { ChannelLayer } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import * as Bot from "../src/Bot.js"
import * as PythonPeer from "./PythonPeer.js"

const room = `interop${randomBytes(3).toString("hex")}`
const group = `chat_${room}`

describe("Node bot and a channels_rabbitmq-format Python peer on one broker", () => {
  it.scopedLive(
    "group and direct messages cross in both directions, with every value type",
    () =>
      Effect.gen(function*() {
        const peer = yield* PythonPeer.start([group])
        const context = yield* Layer.build(RabbitMQ.layer())
        const layer = ChannelLayer.ChannelLayer.pipe(Effect.provide(context))

        // The bot joins the room: its announcement reaches the Python side through the group.
        const botChannel = yield* Deferred.make<string>()
        yield* Bot.run(room, (channel) => Deferred.succeed(botChannel, channel)).pipe(
          Effect.provide(context),
          Effect.forkScoped
        )
        const bot = yield* Deferred.await(botChannel)
        expect(bot).toMatch(/^channels_[A-Za-z]{12}!/)
        yield* peer.waitFor((event) =>
          event.event === "message" && event.group === group && event.message.user === Bot.botName
        )

        // Python -> group -> Node bot -> group -> Python.
        yield* peer.command({
          group_send: group,
          message: { type: "chat.message", user: "django", message: "!echo over the wire" }
        })
        const echoed = yield* peer.waitFor((event) =>
          event.event === "message" && event.message.message === "over the wire"
        )
        expect(echoed).toMatchObject({ group, channel: null, message: { type: "chat.message", user: Bot.botName } })

        // Python (a join naming its channel) -> Node -> a direct send to the Python channel.
        yield* peer.command({
          group_send: group,
          message: { type: "chat.join", user: "django", reply_to: peer.channel }
        })
        const greeting = yield* peer.waitFor((event) =>
          event.event === "message" && event.message.type === "chat.greeting"
        )
        expect(greeting).toMatchObject({
          channel: peer.channel,
          group: null,
          message: { message: "hello django, from Node" }
        })

        // Python -> a direct send to the bot's own channel.
        yield* peer.command({ send: bot, message: { type: "chat.message", user: "django", message: "!echo direct" } })
        yield* peer.waitFor((event) => event.event === "message" && event.message.message === "direct")

        // Every value type, Python -> Node (direct) and Node -> Python (direct).
        const typed = {
          type: "types.check",
          int: 42,
          neg: -7,
          big: { $int: "1152921504606846977" },
          float: 2.5,
          yes: true,
          none: null,
          text: "héllo ✓ 日本",
          raw: { $bytes: Buffer.from([0, 1, 254, 255]).toString("base64") },
          list: [1, "two", [3]],
          map: { nested: { deeper: "yes" } }
        }
        const mine = yield* Effect.flatMap(layer, (layer) => layer.newChannel("test"))
        yield* peer.command({ send: mine, message: typed })
        const received = yield* Effect.flatMap(layer, (layer) => layer.receive(mine)).pipe(Effect.timeout("10 seconds"))
        const expected: Message.Message = {
          type: "types.check",
          int: 42,
          neg: -7,
          big: 1152921504606846977n,
          float: 2.5,
          yes: true,
          none: null,
          text: "héllo ✓ 日本",
          raw: new Uint8Array([0, 1, 254, 255]),
          list: [1, "two", [3]],
          map: { nested: { deeper: "yes" } }
        }
        expect(received).toStrictEqual(expected)

        yield* Effect.flatMap(layer, (layer) => layer.send(peer.channel, expected))
        const back = yield* peer.waitFor((event) => event.event === "message" && event.message.type === "types.check")
        expect(back.message).toStrictEqual(typed)
        expect(back.channel).toBe(peer.channel)
        expect(peer.events.filter((event) => event.event === "error")).toStrictEqual([])
      }),
    60_000
  )

  it("the Django project's Python files compile (syntax only: Django is not installed here)", () => {
    const dir = fileURLToPath(new URL("../django_project", import.meta.url))
    const files = [
      "manage.py",
      "mysite/settings.py",
      "mysite/asgi.py",
      "mysite/urls.py",
      "chat/consumers.py",
      "chat/views.py"
    ]
    const source = "import sys, ast\nfor path in sys.argv[1:]:\n    ast.parse(open(path).read(), path)\n"
    const result = spawnSync(PythonPeer.python, ["-c", source, ...files], { cwd: dir, encoding: "utf8" })
    expect({ status: result.status, stderr: result.stderr }).toStrictEqual({ status: 0, stderr: "" })
  })

  it("the bot's commands", () => {
    expect(Bot.reply("!echo hi there")).toBe("hi there")
    expect(Bot.reply("!time", new Date("2026-01-02T03:04:05Z"))).toBe("it is 2026-01-02T03:04:05.000Z on the Node side")
    expect(Bot.reply("hello")).toBeUndefined()
  })
})
