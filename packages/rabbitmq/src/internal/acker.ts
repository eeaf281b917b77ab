/**
 * Batched manual acknowledgements for one consumer channel.
 *
 * Acks requested in one burst (the deliveries of one socket read, one batch of receivers) are
 * sent together in a microtask once it is over: the run of finished deliveries at the front (the
 * oldest unacknowledged ones) as one `basic.ack` with `multiple`, and any finished delivery behind
 * a still-pending one on its own, so that the broker's prefetch window is never held by a
 * delivery that is done.
 *
 * With `hold`, while fewer than `hold.count` deliveries are unacknowledged (pending or done), a
 * burst is not acked at once but after `hold.millis` (or as soon as `hold.count` are): at a low
 * rate each delivery would otherwise cost one `basic.ack`, one socket write and one round of
 * broker work, all on the path of the next message. Done deliveries then hold fewer than
 * `hold.count` places of the prefetch window, for at most `hold.millis`; a busy consumer, with
 * the window fuller than that, acks each burst at once as without `hold`.
 *
 * The instance's queue outlives its connection, so when the connection dies the broker hands
 * every delivery it has not seen acknowledged to the next consumer again, flagged `redelivered`.
 * The acker remembers the body of each such delivery (see `unsettled`) so that the layer can
 * recognise the ones this process already has. The broker holds at most `prefetch` unacknowledged
 * deliveries and processes acks in order, so those are among the deliveries not yet acknowledged
 * plus the last `prefetch` acknowledged ones: that is what is remembered.
 */
import type { Channel } from "amqplib"

const PENDING = 0
const DONE = 1
const SENT = 2

/** What `Channel.ack` reads of a message. */
const tagged = (deliveryTag: number) => ({ fields: { deliveryTag } }) as Parameters<Channel["ack"]>[0]

/** Acknowledges the deliveries of one channel; stale once that channel is gone. */
export class Acker {
  /** Every delivery not yet covered by a sent ack, in delivery order. */
  private readonly states = new Map<number, number>()
  /** The body of every delivery in `states` not yet acknowledged to the broker. */
  private readonly bodies = new Map<number, Uint8Array>()
  /** The bodies of the last `prefetch` deliveries acknowledged to the broker, oldest overwritten. */
  private readonly recent: Array<Uint8Array | undefined>
  private recentNext = 0
  /** Tags finished since the last flush. */
  private finished: Array<number> = []
  private scheduled = false
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private closed = false

  constructor(
    private readonly channel: Channel,
    /** The consumer's prefetch: the most deliveries the broker holds unacknowledged. */
    prefetch: number,
    private readonly hold?: { readonly count: number; readonly millis: number }
  ) {
    this.recent = new Array(prefetch)
  }

  /** Records a delivery; call it before the delivery can be acknowledged. */
  delivered(tag: number, body: Uint8Array): void {
    if (this.closed) return
    this.states.set(tag, PENDING)
    this.bodies.set(tag, body)
  }

  /** The delivery is done with (taken, expired, dropped or undecodable). Idempotent. */
  ack(tag: number): void {
    if (this.closed || this.states.get(tag) !== PENDING) return
    this.states.set(tag, DONE)
    this.finished.push(tag)
    if (this.scheduled) return
    // Deliveries not yet acked (pending or done) fill the prefetch window: hold only while few do.
    if (this.hold === undefined || this.states.size >= this.hold.count) {
      this.scheduled = true
      queueMicrotask(this.flush)
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, this.hold.millis)
    }
  }

  /** Deliveries recorded and not yet acknowledged to the broker. */
  get outstanding(): number {
    return this.states.size
  }

  /**
   * The channel is gone: later acks are dropped (the broker already forgot the tags). Returns the
   * bodies the broker may deliver again (see the module documentation), oldest first.
   */
  close(): Array<Uint8Array> {
    if (this.closed) return []
    this.closed = true
    const unsettled: Array<Uint8Array> = []
    for (let i = 0; i < this.recent.length; i++) {
      const body = this.recent[(this.recentNext + i) % this.recent.length]
      if (body !== undefined) unsettled.push(body)
    }
    for (const body of this.bodies.values()) unsettled.push(body)
    this.states.clear()
    this.bodies.clear()
    this.recent.fill(undefined)
    this.finished = []
    this.clearTimer()
    return unsettled
  }

  /** An acknowledgement of `tag` went out. */
  private settled(tag: number): void {
    const body = this.bodies.get(tag)
    if (body === undefined) return
    this.bodies.delete(tag)
    if (this.recent.length === 0) return
    this.recent[this.recentNext] = body
    this.recentNext = (this.recentNext + 1) % this.recent.length
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false
    this.clearTimer()
    if (this.closed) return
    let upTo = 0
    for (const [tag, state] of this.states) {
      if (state === PENDING) break
      if (state === DONE) {
        upTo = tag
        this.settled(tag)
      }
      this.states.delete(tag)
    }
    const finished = this.finished
    this.finished = []
    try {
      if (upTo > 0) this.channel.ack(tagged(upTo), true)
      for (const tag of finished) {
        if (this.states.get(tag) === DONE) {
          this.channel.ack(tagged(tag), false)
          this.states.set(tag, SENT)
          this.settled(tag)
        }
      }
    } catch {
      // The channel closed under us. The connection manager closes the acker when it notices,
      // and takes what it remembers then: nothing to do here.
    }
  }
}
