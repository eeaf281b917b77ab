/**
 * The typed errors of the channel layer. Each one is named for the condition and carries the
 * fields a caller needs to act on it (the channel, the group, what was wrong).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * `send` found the channel at its capacity (the local buffer, or the broker queue's
 * `x-max-length`). Retry later, or raise the capacity.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChannelFull extends Schema.TaggedError<ChannelFull>()("ChannelFull", {
  channel: Schema.String,
  capacity: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return this.capacity === undefined
      ? `channel ${this.channel} is full`
      : `channel ${this.channel} is full (capacity ${this.capacity})`
  }
}

/**
 * The transport lost (or could not get) its connection to the broker, and the operation could
 * not be completed within its bound. The message of a failed `send` was not delivered.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionClosed extends Schema.TaggedError<ConnectionClosed>()("ConnectionClosed", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `connection closed: ${this.reason}`
  }
}

/**
 * The broker found no queue for the channel a `send` addressed: the layer instance that owned it
 * is gone (its process ended, or it was unreachable for longer than its queue outlives it), or,
 * right after a broker restart, it has not yet declared its queue again. The message was not
 * delivered. Where Django's semantics are wanted (a send to a departed client is not an error),
 * catch it: `Effect.catchTag("ChannelNotFound", () => Effect.void)`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChannelNotFound extends Schema.TaggedError<ChannelNotFound>()("ChannelNotFound", {
  channel: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `channel ${this.channel} not found: ${this.reason}`
  }
}

/**
 * The layer's scope has closed: it no longer sends or receives.
 *
 * @since 0.1.0
 * @category errors
 */
export class LayerClosed extends Schema.TaggedError<LayerClosed>()("LayerClosed", {}) {
  override get message(): string {
    return "the channel layer is closed"
  }
}

/**
 * A channel name that the layer does not accept; `reason` says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidChannelName extends Schema.TaggedError<InvalidChannelName>()("InvalidChannelName", {
  channel: Schema.Unknown,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid channel name ${JSON.stringify(this.channel)}: ${this.reason}`
  }
}

/**
 * A group name that the layer does not accept; `reason` says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidGroupName extends Schema.TaggedError<InvalidGroupName>()("InvalidGroupName", {
  group: Schema.Unknown,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid group name ${JSON.stringify(this.group)}: ${this.reason}`
  }
}

/**
 * A message that cannot be sent: not a plain object with a string `type`, a value of a type a
 * message may not carry, or a reserved key. `path` locates the offending value (`$.a[2].b`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMessage extends Schema.TaggedError<InvalidMessage>()("InvalidMessage", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid message at ${this.path}: ${this.reason}`
  }
}

/**
 * The encoded message is bigger than the transport accepts.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageTooLarge extends Schema.TaggedError<MessageTooLarge>()("MessageTooLarge", {
  size: Schema.Number,
  maxSize: Schema.Number
}) {
  override get message(): string {
    return `message of ${this.size} bytes is larger than the limit of ${this.maxSize} bytes`
  }
}

/**
 * Bytes that are not a channel-layer message (not msgpack, no envelope, a non-string key), or a
 * message that does not match the Schema of a typed view.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageDecodeError extends Schema.TaggedError<MessageDecodeError>()("MessageDecodeError", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `cannot decode message: ${this.reason}`
  }
}

/**
 * A layer option with a value the layer cannot work with; `reason` says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  option: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid option ${this.option}: ${this.reason}`
  }
}

/**
 * A consumer got a message whose `type` has no handler.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoHandler extends Schema.TaggedError<NoHandler>()("NoHandler", {
  type: Schema.String,
  handler: Schema.String
}) {
  override get message(): string {
    return `no handler ${this.handler} for message type ${JSON.stringify(this.type)}`
  }
}
