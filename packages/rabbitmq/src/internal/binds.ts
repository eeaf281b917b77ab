/**
 * The queue's group bindings. A group is bound when its first member here joins and unbound when
 * its last leaves, on the control channel of the live connection, in call order (amqplib runs a
 * channel's operations one after the other). A member joining while its group's bind is under way
 * waits for it. Without a connection nothing is issued: each new connection binds the groups
 * that have members then.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"
import type { Manager } from "./connection.js"

/** Binds and unbinds of one instance's queue. */
export class Binds {
  /** The last bind or unbind issued for each group, until it completes. */
  private readonly inFlight = new Map<string, Deferred.Deferred<void>>()

  constructor(private readonly manager: Manager, private readonly exchange: string) {}

  /** Binds `group`; completes once the broker did (or the connection went). */
  bind(group: string): Effect.Effect<void> {
    return this.issue(group, (control, queue) => control.bindQueue(queue, this.exchange, group))
  }

  /** Unbinds `group`; completes once the broker did (or the connection went). */
  unbind(group: string): Effect.Effect<void> {
    return this.issue(group, (control, queue) => control.unbindQueue(queue, this.exchange, group))
  }

  /** Completes once the last bind or unbind issued for `group` did. */
  settled(group: string): Effect.Effect<void> {
    const inFlight = this.inFlight.get(group)
    return inFlight === undefined ? Effect.void : Deferred.await(inFlight)
  }

  /** Issued when called, not when the returned effect runs: binds keep the order of the calls. */
  private issue(
    group: string,
    operation: (control: NonNullable<ReturnType<Manager["control"]>>, queue: string) => Promise<unknown>
  ): Effect.Effect<void> {
    const control = this.manager.control()
    if (control === undefined) return Effect.void
    const done = Deferred.unsafeMake<void>(FiberId.none)
    const settle = () => {
      Deferred.unsafeDone(done, Exit.void)
      if (this.inFlight.get(group) === done) this.inFlight.delete(group)
    }
    try {
      operation(control, this.manager.queueName()).then(settle, settle)
    } catch {
      // The channel is closed: the next connection binds what has members then.
      return Effect.void
    }
    this.inFlight.set(group, done)
    return Deferred.await(done)
  }
}
