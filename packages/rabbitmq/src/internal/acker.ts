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
 * the window fuller than that, acks each burst at once as without `hold`. Nothing is redelivered for it: the exclusive queue goes with
 * the connection, and a closed channel drops its pending acks anyway.
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
  /** Tags finished since the last flush. */
  private finished: Array<number> = []
  private scheduled = false
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private closed = false

  constructor(
    private readonly channel: Channel,
    private readonly hold?: { readonly count: number; readonly millis: number }
  ) {}

  /** Records a delivery; call it before the delivery can be acknowledged. */
  delivered(tag: number): void {
    if (!this.closed) this.states.set(tag, PENDING)
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

  /** The channel is gone: later acks are dropped (the broker already forgot the tags). */
  close(): void {
    this.closed = true
    this.states.clear()
    this.finished = []
    this.clearTimer()
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
      if (state === DONE) upTo = tag
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
        }
      }
    } catch {
      // The channel closed under us; the reconnect loop takes it from here.
      this.close()
    }
  }
}
