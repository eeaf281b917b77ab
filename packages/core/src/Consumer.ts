/**
 * Dispatch by message type, as Django's consumers do: a message of type `chat.message` goes to
 * the handler named `chat_message`.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import { type ChannelLayer, messages } from "./ChannelLayer.js"
import { type InvalidChannelName, NoHandler } from "./Errors.js"
import type { Message } from "./Message.js"

/**
 * Handlers by name (`chat_message`), each taking the whole message.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<E, R> = Readonly<Record<string, (message: Message) => Effect.Effect<void, E, R>>>

/**
 * The handler name of a message type: dots become underscores (`chat.message` -> `chat_message`).
 *
 * @since 0.1.0
 * @category dispatch
 */
export const handlerName = (type: string): string => type.replaceAll(".", "_")

/**
 * Runs the handler of a message's type. A type without a handler, or one whose handler name
 * starts with `_` (Django refuses those too), fails with `NoHandler`.
 *
 * @since 0.1.0
 * @category dispatch
 */
export const dispatch =
  <E, R>(handlers: Handlers<E, R>) => (message: Message): Effect.Effect<void, E | NoHandler, R> => {
    const name = handlerName(message.type)
    const handler = name.startsWith("_") || !Object.hasOwn(handlers, name) ? undefined : handlers[name]
    return handler === undefined ? Effect.fail(new NoHandler({ type: message.type, handler: name })) : handler(message)
  }

/**
 * Receives messages on a channel and dispatches each to its handler, one at a time, until the
 * layer closes or a handler fails.
 *
 * @since 0.1.0
 * @category dispatch
 */
export const run = <E, R>(
  channel: string,
  handlers: Handlers<E, R>
): Effect.Effect<void, E | NoHandler | InvalidChannelName, ChannelLayer | R> =>
  Stream.runForEach(messages(channel), dispatch(handlers))
