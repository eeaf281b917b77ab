/**
 * Which send a returned message belongs to. A direct send is published `mandatory`: when no queue
 * has the channel's name, the broker returns the message and then confirms the publish, both on
 * the publisher's channel, in that order. Matching the return with the send it came from lets that
 * send fail with `ChannelNotFound` when its confirm arrives, instead of succeeding.
 */
import { Fifo } from "@channel-layer/core"
import { sameBytes } from "./bytes.js"

/** One direct publish awaiting its confirm. */
export interface Publish {
  readonly queue: string
  readonly body: Uint8Array
  returned: boolean
  settled: boolean
}

/** The direct publishes of one publisher channel that await their confirm, oldest first. */
export class Unconfirmed {
  private readonly publishes = new Fifo.Fifo<Publish>()

  /** Records a publish before it goes out. */
  add(queue: string, body: Uint8Array): Publish {
    const publish: Publish = { queue, body, returned: false, settled: false }
    this.publishes.push(publish)
    return publish
  }

  /** The publish was confirmed, nacked or lost with its channel. */
  settle(publish: Publish): void {
    publish.settled = true
    // Confirms mostly come in order: drop the settled run at the front.
    let head: Publish | undefined
    while ((head = this.publishes.peek()) !== undefined && head.settled) this.publishes.shift()
  }

  /**
   * The broker returned a message published to `queue`: marks the oldest matching publish not yet
   * confirmed. Returns whether one matched (a message published by someone else does not).
   */
  returned(queue: string, body: Uint8Array): boolean {
    for (let i = 0; i < this.publishes.length; i++) {
      const publish = this.publishes.at(i)!
      if (!publish.settled && !publish.returned && publish.queue === queue && sameBytes(publish.body, body)) {
        publish.returned = true
        return true
      }
    }
    return false
  }
}
