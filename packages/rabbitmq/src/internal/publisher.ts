/**
 * Publishing with publisher confirms. Every publish is `mandatory` and waits for the broker's
 * confirm: an ack is success, a nack means the queue is full (`x-overflow: reject-publish`), a
 * return before the ack means no queue took the message, and a confirm lost with its connection
 * is a `ConnectionClosed` (the message may or may not have been delivered): no send is ever
 * lost unseen.
 */
import { Errors } from "@channel-layer/core"
import { Duration, Effect } from "effect"
import type { Manager } from "./connection.js"
import type { Resolved } from "./options.js"
import type { Live } from "./session.js"

/**
 * What a publish does on a refusal, given what was published to (the channel of a direct send,
 * the group of a group send). One object per kind of publish, made once: a record of closures per
 * send would be garbage on the hot path.
 */
export interface Refusals<E> {
  /** The broker refused the message: the queue is full. */
  readonly nacked: (target: string) => Effect.Effect<void, E>
  /**
   * Direct sends only: the broker returned the message, no queue has the routing key's name. A
   * group send that reaches no queue still succeeds (see `onReturned`).
   */
  readonly returned?: (target: string) => Effect.Effect<void, E>
}

const mandatory = { mandatory: true }

/** Publishes on the manager's live connection. */
export class Publisher {
  /** `confirmTimeout`, when set, bounds the wait for a publish's confirm. */
  private readonly bound: <E>(effect: Effect.Effect<void, E>) => Effect.Effect<void, E | Errors.ConnectionClosed>

  constructor(private readonly manager: Manager, options: Resolved) {
    const { confirmTimeout } = options
    this.bound = confirmTimeout === undefined ? (effect) => effect : Effect.timeoutFail({
      duration: Duration.millis(confirmTimeout),
      onTimeout: () =>
        new Errors.ConnectionClosed({
          reason: `no confirm from the broker within confirmTimeout (${confirmTimeout} ms); ` +
            "the message may or may not be delivered"
        })
    })
  }

  /**
   * Publishes `body` and waits for its confirm, waiting first for a connection if there is none
   * (up to `waitForConnection`). `target` is what a refusal names (see `Refusals`).
   */
  publish<E>(
    exchange: string,
    routingKey: string,
    body: Buffer,
    refusals: Refusals<E>,
    target: string
  ): Effect.Effect<void, E | Errors.ConnectionClosed | Errors.LayerClosed> {
    const live = this.manager.current()
    return this.bound(
      live !== undefined
        ? this.on(live, exchange, routingKey, body, refusals, target, true)
        : Effect.flatMap(
          this.manager.awaitLive,
          (next) => this.on(next, exchange, routingKey, body, refusals, target, true)
        )
    )
  }

  /**
   * Publishes on `live`. A publish that throws (its channel is already closed, so nothing was
   * sent) waits for the next connection and, with `retry`, tries once more.
   */
  private on<E>(
    live: Live,
    exchange: string,
    routingKey: string,
    body: Buffer,
    refusals: Refusals<E>,
    target: string,
    retry: boolean
  ): Effect.Effect<void, E | Errors.ConnectionClosed | Errors.LayerClosed> {
    return Effect.async((resume) => {
      // Direct publishes are tracked, to tell which send a returned message belongs to.
      const tracked = refusals.returned === undefined ? undefined : live.unconfirmed.add(routingKey, body)
      try {
        live.publisher.publish(exchange, routingKey, body, mandatory, (error: Error | null) => {
          if (tracked !== undefined) live.unconfirmed.settle(tracked)
          if (error === null) resume(tracked?.returned === true ? refusals.returned!(target) : Effect.void)
          else if (error.message === "message nacked") resume(refusals.nacked(target))
          else resume(Effect.fail(this.lostConfirm(error)))
        })
      } catch (error) {
        if (tracked !== undefined) live.unconfirmed.settle(tracked)
        if (!retry) return resume(Effect.fail(this.notSent(error)))
        this.manager.broken(live, `publish failed: ${String(error)}`)
        resume(
          Effect.flatMap(
            this.manager.awaitLive,
            (next) => this.on(next, exchange, routingKey, body, refusals, target, false)
          )
        )
      }
    })
  }

  private lostConfirm(error: unknown): Errors.ConnectionClosed | Errors.LayerClosed {
    return this.manager.isClosed() ? new Errors.LayerClosed() : new Errors.ConnectionClosed({
      reason: "the connection closed before the broker confirmed the message; it may or may not have been delivered",
      cause: error
    })
  }

  private notSent(error: unknown): Errors.ConnectionClosed | Errors.LayerClosed {
    return this.manager.isClosed() ? new Errors.LayerClosed() : new Errors.ConnectionClosed({
      reason: "the connection closed again before the message could be published",
      cause: error
    })
  }
}
