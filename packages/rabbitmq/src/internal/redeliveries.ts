/**
 * Recognising the redeliveries of messages this process already has.
 *
 * The instance's queue outlives its connection. When a connection dies, the broker puts every
 * delivery it has not seen acknowledged back in the queue, at its old place, and hands it to the
 * next consumer flagged `redelivered`, ahead of anything newer. Some of those this process already
 * has (buffered for a receiver, or received and acknowledged in an ack the broker never read);
 * others never reached it (they were on the wire when the connection died). Delivering the first
 * kind again would be a duplicate, dropping the second kind a loss. So a redelivery is dropped
 * when its body equals, byte for byte, one that the lost connection left unsettled (see
 * `Acker.close`), each remembered body matching once.
 *
 * The one case this cannot tell apart: two byte-identical messages (same content, same channel)
 * around one reconnect, the first already here and the second on the wire: the second is taken
 * for a redelivery of the first and dropped. Nothing finer is possible without a message id on
 * the wire, and the Python layer sends none.
 */
import { sameBytes } from "./bytes.js"

interface Suspect {
  readonly body: Uint8Array
  /** After this the broker has dropped the message anyway (`x-message-ttl`). */
  readonly until: number
}

/** The bodies lost connections left unsettled, until their redeliveries are over. */
export class Redeliveries {
  private suspects: Array<Suspect> = []

  /** `lifetime`: how long the broker keeps a message (the queue's `x-message-ttl`). */
  constructor(private readonly lifetime: number) {}

  /** A connection ended leaving these bodies unsettled. */
  add(bodies: ReadonlyArray<Uint8Array>, now: number): void {
    const until = now + this.lifetime
    for (const body of bodies) this.suspects.push({ body, until })
  }

  /** Whether redeliveries may still come. */
  get expecting(): boolean {
    return this.suspects.length > 0
  }

  /** Whether a redelivered body is one this process already has (it then matches no other). */
  alreadyHave(body: Uint8Array, now: number): boolean {
    this.suspects = this.suspects.filter((suspect) => suspect.until > now)
    const index = this.suspects.findIndex((suspect) => sameBytes(suspect.body, body))
    if (index === -1) return false
    this.suspects.splice(index, 1)
    return true
  }

  /** A first delivery arrived: the broker hands redeliveries out before it, none is left to come. */
  clear(): void {
    this.suspects = []
  }
}
