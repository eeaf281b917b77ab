/**
 * The topic frames of the ZeroMQ transports. A multipart message is the topic, then one msgpack
 * body per channel-layer message (a sender packs consecutive messages for one topic together); a
 * subscription acknowledgement is three frames (the subscription, an empty frame, the id of the
 * publisher that saw it), told apart by its empty second frame.
 *
 * - Direct: `c:<client id>\0`. A process subscribes to its own client id once; the client id is the
 *   last dot-separated segment before `!` in the names its `newChannel` makes
 *   (`specific.<client id>!<random>`), so any sender can route to it.
 * - Group: `g:<group>\0<sender id>`. Receivers subscribe to `g:<group>\0`; the terminator keeps
 *   `chat` from matching `chat2`, the separate `c:`/`g:` namespaces keep a group from matching a
 *   client id, and the sender id lets a process skip its own group messages (it delivered them to
 *   its local members already).
 *
 * Names are ASCII (the name rules of the layer), so topics are handled as latin1.
 *
 * @since 0.1.0
 */

/**
 * The byte that ends the name in a topic.
 *
 * @since 0.1.0
 * @category constants
 */
export const TERMINATOR = "\u0000"

/**
 * The first byte of a direct topic (`c`).
 *
 * @since 0.1.0
 * @category constants
 */
export const DIRECT_BYTE = 0x63

/**
 * The first byte of a group topic (`g`).
 *
 * @since 0.1.0
 * @category constants
 */
export const GROUP_BYTE = 0x67

/**
 * Length of client ids (random ASCII letters); the sender id at the end of a group topic has it.
 *
 * @since 0.1.0
 * @category constants
 */
export const CLIENT_ID_LENGTH = 12

/**
 * The subscription of a process's direct messages.
 *
 * @since 0.1.0
 * @category topics
 */
export const directSubscription = (clientId: string): string => `c:${clientId}${TERMINATOR}`

/**
 * The subscription of a group's messages.
 *
 * @since 0.1.0
 * @category topics
 */
export const groupSubscription = (group: string): string => `g:${group}${TERMINATOR}`

/**
 * The client id that owns a process-local channel: the last dot-separated segment before `!`.
 * `undefined` for a normal channel (no `!`).
 *
 * @since 0.1.0
 * @category names
 */
export const clientIdOf = (channel: string): string | undefined => {
  const bang = channel.indexOf("!")
  if (bang === -1) return undefined
  return channel.slice(channel.lastIndexOf(".", bang) + 1, bang)
}

/**
 * The name inside a received topic (between the `x:` namespace and the terminator), or
 * `undefined` when the topic has no terminator.
 *
 * @since 0.1.0
 * @category topics
 */
export const nameOf = (topic: Uint8Array): string | undefined => {
  const end = topic.indexOf(0, 2)
  return end === -1 ? undefined : Buffer.from(topic.buffer, topic.byteOffset, end).toString("latin1", 2)
}

const cacheLimit = 10_000

/**
 * Topic frames, built once per client id or group and sender and then reused.
 *
 * @since 0.1.0
 * @category models
 */
export class TopicCache {
  private readonly direct = new Map<string, Buffer>()
  private readonly group = new Map<string, Buffer>()
  constructor(private readonly senderId: string) {}

  /** The topic frame of a direct message for a client id. */
  directTopic(clientId: string): Buffer {
    let topic = this.direct.get(clientId)
    if (topic === undefined) {
      if (this.direct.size >= cacheLimit) this.direct.clear()
      topic = Buffer.from(directSubscription(clientId), "latin1")
      this.direct.set(clientId, topic)
    }
    return topic
  }

  /** The topic frame of a group message sent by this process. */
  groupTopic(group: string): Buffer {
    let topic = this.group.get(group)
    if (topic === undefined) {
      if (this.group.size >= cacheLimit) this.group.clear()
      topic = Buffer.from(`${groupSubscription(group)}${this.senderId}`, "latin1")
      this.group.set(group, topic)
    }
    return topic
  }
}

/**
 * A test for "this group topic was sent by `senderId`" on raw topic bytes.
 *
 * @since 0.1.0
 * @category topics
 */
export const sentBy = (senderId: string): (topic: Uint8Array) => boolean => {
  const suffix = Buffer.from(`${TERMINATOR}${senderId}`, "latin1")
  const length = suffix.length
  return (topic) => {
    if (topic.length <= length + 2) return false
    const offset = topic.length - length
    for (let i = 0; i < length; i++) if (topic[offset + i] !== suffix[i]) return false
    return true
  }
}
