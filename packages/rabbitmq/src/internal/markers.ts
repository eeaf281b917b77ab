/**
 * Membership markers: a group membership change is published to the instance's own queue as a
 * marker message and applied to the local fan-out when the marker comes back, in queue order. So
 * a group message queued before a `groupAdd` never reaches the new member, and one queued before a
 * `groupDiscard` still reaches the old one, however far behind the consumer is.
 *
 * When a connection is lost, the changes still waiting for their marker are applied at once
 * rather than wait for it: the queue may be gone with its node, or the marker's publish with the
 * connection. A group message queued before such a change may then reach the members as they are
 * after it. A marker that comes back after its change was applied (redelivered, or late) is
 * dropped.
 */
import { ChannelName, Codec, type Message } from "@channel-layer/core"
import { Deferred, Effect, Exit, FiberId } from "effect"
import { toBuffer } from "./bytes.js"
import type { Live } from "./session.js"

/** The body of a marker. */
const MARKER: Message.Message = { type: "channel_layer.membership" }

const MARKER_PREFIX = "!membership."

/** The changes waiting for their marker, keyed by the marker's channel, in publication order. */
export class Markers {
  private readonly waiting = new Map<string, () => void>()

  /**
   * Publishes a marker that applies `apply` when it comes back; succeeds once the broker
   * confirmed it, so anything sent after that is queued behind it. A marker the broker refuses
   * (the queue is full) or that cannot be published applies at once. Published when called, not
   * when the returned effect runs: markers keep the order of the calls.
   */
  publish(live: Live, apply: () => void): Effect.Effect<void> {
    const confirmed = Deferred.unsafeMake<void>(FiberId.none)
    const channel = `${live.queue}${MARKER_PREFIX}${ChannelName.randomLetters(12)}`
    this.waiting.set(channel, apply)
    try {
      const body = toBuffer(Codec.encode(MARKER, { channel }))
      live.publisher.publish("", live.queue, body, undefined, (error: Error | null) => {
        if (error !== null) this.arrived(channel)
        Deferred.unsafeDone(confirmed, Exit.void)
      })
    } catch {
      this.arrived(channel)
      return Effect.void
    }
    return Deferred.await(confirmed)
  }

  /** Whether a delivered message is a marker of `queue`'s instance. */
  isMarker(queue: string, channel: string, message: Message.Message): boolean {
    return message.type === MARKER.type && channel.length === queue.length + MARKER_PREFIX.length + 12 &&
      channel.startsWith(queue) && channel.startsWith(MARKER_PREFIX, queue.length)
  }

  /** A marker came back: its change applies now (a marker whose change already applied is ignored). */
  arrived(channel: string): void {
    if (this.waiting.size === 0) return
    const apply = this.waiting.get(channel)
    if (apply === undefined) return
    this.waiting.delete(channel)
    apply()
  }

  /** The connection was lost: every waiting change applies now, in order. */
  applyAll(): void {
    const pending = [...this.waiting.values()]
    this.waiting.clear()
    for (const apply of pending) apply()
  }
}
