/**
 * What travels through the channel layer in the chat: Django-style messages with a `type`
 * (`chat.message`, `chat.join`, `chat.leave`), sent to the room's group and forwarded to every
 * websocket in the room, whichever server holds it.
 */
import { Schema } from "effect"

/** A line typed by a user. */
export const Said = Schema.Struct({
  type: Schema.Literal("chat.message"),
  room: Schema.String,
  user: Schema.String,
  text: Schema.String,
  /** The server the sender is connected to, so the demo shows messages crossing servers. */
  server: Schema.String,
  /** Milliseconds since the epoch, on the sender's server. */
  at: Schema.Number,
  /**
   * The sender's websocket (a random id its page got in `chat.welcome`): the page marks its own
   * lines by it, not by the user name, which two people may share.
   */
  connection: Schema.optionalWith(Schema.String, { exact: true })
})

/** Someone entered the room. */
export const Joined = Schema.Struct({
  type: Schema.Literal("chat.join"),
  room: Schema.String,
  user: Schema.String,
  server: Schema.String,
  at: Schema.Number
})

/** Someone left the room. */
export const Left = Schema.Struct({
  type: Schema.Literal("chat.leave"),
  room: Schema.String,
  user: Schema.String,
  server: Schema.String,
  at: Schema.Number
})

/** Every message a room's group carries. */
export const ChatMessage = Schema.Union(Said, Joined, Left)

/** @see ChatMessage */
export type ChatMessage = typeof ChatMessage.Type

/** What the browser sends on its websocket: one JSON object per line typed. */
export const ClientFrame = Schema.parseJson(Schema.Struct({
  text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000))
}))

/** Room names are group names: ASCII letters, digits, `-`, `_` and `.`, under 100 characters. */
export const RoomName = Schema.String.pipe(Schema.pattern(/^[a-zA-Z\d\-_.]{1,80}$/))

/** User names shown next to what they say. */
export const UserName = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(40))
