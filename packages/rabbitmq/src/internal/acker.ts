/**
 * Batched manual acknowledgements for one consumer channel.
 *
 * Acks requested in one burst (the deliveries of one socket read, one batch of receivers) are
 * sent together in a microtask once it is over: the run of finished deliveries at the front (the
 * oldest unacknowledged ones) as one `basic.ack` with `multiple`, and any finished delivery behind
 * a still-pending one on its own, so that the broker's prefetch window is never held by a
 * delivery that is done.
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
  private closed = false

  constructor(private readonly channel: Channel) {}

  /** Records a delivery; call it before the delivery can be acknowledged. */
  delivered(tag: number): void {
    if (!this.closed) this.states.set(tag, PENDING)
  }

  /** The delivery is done with (taken, expired, dropped or undecodable). Idempotent. */
  ack(tag: number): void {
    if (this.closed || this.states.get(tag) !== PENDING) return
    this.states.set(tag, DONE)
    this.finished.push(tag)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flush)
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
  }

  private readonly flush = (): void => {
    this.scheduled = false
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
