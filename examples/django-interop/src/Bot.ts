/**
 * The Node side of the interop example: a bot that lives in a Django chat room. It joins the
 * Django consumers' group (`chat_<room>`) with a channel of its own, and handles the group's
 * messages by type, as a Django consumer does (`chat.message` -> `chat_message`):
 *
 * - `chat.message` whose text starts with `!echo ` or is `!time`: answers the room (`groupSend`);
 * - `chat.join` carrying `reply_to` (a Django consumer's channel name): greets that one consumer
 *   directly (`send` to a channel that channels_rabbitmq made).
 *
 * Every message the bot sends is a plain dict on the Python side: strings, numbers, no bytes (the
 * Django consumer turns them into JSON for its websocket).
 */
import { ChannelLayer, Consumer } from "@channel-layer/core"
import { Effect, Schema, Stream } from "effect"

/** What the Django consumer sends to the group when a user types. */
export const ChatMessage = Schema.Struct({
  type: Schema.Literal("chat.message"),
  user: Schema.String,
  message: Schema.String
})

/** What the Django consumer sends to the group when a websocket connects. */
export const ChatJoin = Schema.Struct({
  type: Schema.Literal("chat.join"),
  user: Schema.String,
  reply_to: Schema.optional(Schema.String)
})

/** The bot's name in the room. */
export const botName = "node-bot"

/** The reply to a `!command`, if the text is one. */
export const reply = (text: string, now: Date = new Date()): string | undefined => {
  if (text.startsWith("!echo ")) return text.slice("!echo ".length)
  if (text.trim() === "!time") return `it is ${now.toISOString()} on the Node side`
  return undefined
}

/**
 * Joins `chat_<room>` and answers until interrupted; leaves the group on the way out. `onReady`
 * gets the bot's channel (tests send to it directly).
 */
export const run = (room: string, onReady: (channel: string) => Effect.Effect<void> = () => Effect.void) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const group = `chat_${room}`
    const channel = yield* layer.newChannel("nodebot")
    yield* Effect.acquireRelease(
      layer.groupAdd(group, channel),
      () => Effect.ignore(layer.groupDiscard(group, channel))
    )
    yield* Effect.logInfo(`in ${group} as ${channel}`)
    yield* layer.groupSend(group, {
      type: "chat.message",
      user: botName,
      message: "Node bot here: say !echo <text> or !time"
    })
    yield* onReady(channel)

    const handlers: Consumer.Handlers<unknown, ChannelLayer.ChannelLayer> = {
      chat_message: (message) =>
        Effect.gen(function*() {
          const said = yield* Schema.decodeUnknown(ChatMessage)(message)
          if (said.user === botName) return
          const answer = reply(said.message)
          if (answer !== undefined) {
            yield* layer.groupSend(group, { type: "chat.message", user: botName, message: answer })
          }
        }),
      chat_join: (message) =>
        Effect.gen(function*() {
          const joined = yield* Schema.decodeUnknown(ChatJoin)(message)
          if (joined.reply_to === undefined) return
          yield* layer.send(joined.reply_to, {
            type: "chat.greeting",
            user: botName,
            message: `hello ${joined.user}, from Node`
          })
        })
    }
    yield* ChannelLayer.messages(channel).pipe(
      Stream.runForEach((message) =>
        Consumer.dispatch(handlers)(message).pipe(
          Effect.catchAll((error) => Effect.logWarning(`could not handle a ${message.type} message`, error))
        )
      )
    )
  }).pipe(Effect.scoped, Effect.annotateLogs({ room }))
