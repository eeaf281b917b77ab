/**
 * A typed view of the channel layer through an Effect `Schema`: values are encoded on the way
 * out (a value the Schema rejects is `InvalidMessage`) and decoded on the way in (a message the
 * Schema rejects is `MessageDecodeError`).
 *
 * @since 0.1.0
 */
import type { ParseResult } from "effect"
import { Effect, Option, Schema, Stream } from "effect"
import { ChannelLayer, type GroupSendError, type SendError } from "./ChannelLayer.js"
import { type InvalidChannelName, InvalidMessage, type LayerClosed, MessageDecodeError } from "./Errors.js"
import type { Message } from "./Message.js"

/**
 * Typed send, receive, group send and stream of one message Schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedChannel<A, R> {
  readonly send: (channel: string, value: A) => Effect.Effect<void, SendError, ChannelLayer | R>
  readonly groupSend: (group: string, value: A) => Effect.Effect<void, GroupSendError, ChannelLayer | R>
  readonly receive: (
    channel: string
  ) => Effect.Effect<A, MessageDecodeError | InvalidChannelName | LayerClosed, ChannelLayer | R>
  /** Messages of the channel until the layer closes; fails on the first one that does not decode. */
  readonly messages: (
    channel: string
  ) => Stream.Stream<A, MessageDecodeError | InvalidChannelName, ChannelLayer | R>
}

const describe = (error: ParseResult.ParseError): string => error.message

/**
 * Makes the typed view of a Schema whose encoded side is a message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I extends Message, R = never>(schema: Schema.Schema<A, I, R>): TypedChannel<A, R> => {
  const encode = (value: A) =>
    Schema.encode(schema)(value).pipe(
      Effect.mapError((error) => new InvalidMessage({ path: "$", reason: describe(error) }))
    )
  const decode = (message: Message) =>
    Schema.decodeUnknown(schema)(message).pipe(
      Effect.mapError((error) => new MessageDecodeError({ reason: describe(error), cause: error }))
    )
  const receive = (channel: string) =>
    Effect.flatMap(ChannelLayer, (layer) => Effect.flatMap(layer.receive(channel), decode))
  return {
    send: (channel, value) =>
      Effect.flatMap(encode(value), (message) => Effect.flatMap(ChannelLayer, (layer) => layer.send(channel, message))),
    groupSend: (group, value) =>
      Effect.flatMap(
        encode(value),
        (message) => Effect.flatMap(ChannelLayer, (layer) => layer.groupSend(group, message))
      ),
    receive,
    messages: (channel) =>
      Stream.repeatEffectOption(
        receive(channel).pipe(
          Effect.mapError((error) => error._tag === "LayerClosed" ? Option.none() : Option.some(error))
        )
      )
  }
}
