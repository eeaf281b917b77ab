/**
 * A first-in first-out queue on a plain array with a moving head: O(1) push and shift without
 * `Array.prototype.shift`'s copying, compacted once the consumed prefix dominates. Local buffers
 * and transport outboxes use it on their hot paths.
 *
 * @since 0.1.0
 */

/**
 * A FIFO queue.
 *
 * @since 0.1.0
 * @category models
 */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0

  /** Items in the queue. */
  get length(): number {
    return this.items.length - this.head
  }

  /** Appends an item. */
  push(item: A): void {
    this.items.push(item)
  }

  /** Puts an item back at the front. */
  unshift(item: A): void {
    if (this.head > 0) this.items[--this.head] = item
    else this.items.unshift(item)
  }

  /** The first item, left in place. */
  peek(): A | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined
  }

  /** The item at `index` from the front (0 is the first), left in place. */
  at(index: number): A | undefined {
    return this.head + index < this.items.length ? this.items[this.head + index] : undefined
  }

  /** Removes and returns the first item. */
  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Removes every item, returning them in order. */
  drain(): Array<A> {
    const out = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    return out
  }
}
