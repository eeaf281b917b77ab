/**
 * Knowing that a subscription has reached the publishers, the subscriber's half of the
 * slow-joiner guard. A SUB socket's subscriptions travel to each publisher asynchronously (and
 * are resent, in no particular order, after every reconnect); until a publisher has one, what it
 * publishes on that topic is lost. So `newChannel` and `groupAdd` return only once every publisher
 * this socket reaches has acknowledged the subscription.
 *
 * Every publisher of this transport (the embedded layer's PUB socket, the proxy) answers each
 * subscribe it sees with an acknowledgement on the subscribed topic itself, carrying its id.
 * Receiving it proves that the publisher has the subscription. A subscription is confirmed when
 * it was acknowledged by:
 *
 * - every publisher that acknowledged this process's own direct subscription in the current
 *   connection generation (that is how the subscriber learns who its publishers are: each one
 *   acknowledges the direct subscription when the connection is made), and
 * - at least as many publishers as the socket has live connections (from its monitor), and at
 *   least `minimumPublishers` (1 for the dedicated layer: the proxy must be there).
 *
 * A lost connection starts a new generation: earlier acknowledgements no longer count, and a
 * subscription that must be confirmed again is "poked" (subscribed once more and unsubscribed at
 * once: libzmq sends the duplicate subscribe and, the count staying above zero, no unsubscribe),
 * which makes every connected publisher acknowledge it again. A reconnected publisher gets all
 * subscriptions anyway and acknowledges them all.
 *
 * @since 0.1.0
 */
import { Errors } from "@channel-layer/core"
import { Duration, Effect } from "effect"
import type * as zmq from "zeromq"

/**
 * The subscription bookkeeping of one SUB socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Confirmations {
  /** Subscribes the socket (once per subscription; acknowledgements follow). */
  readonly subscribe: (subscription: string) => void
  /** Unsubscribes the socket; a confirmation waiting for it succeeds. */
  readonly unsubscribe: (subscription: string) => void
  /** Waits until the subscription is confirmed, or fails after the timeout. */
  readonly confirm: (subscription: string) => Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed>
  /** An acknowledgement arrived on the socket. */
  readonly onAck: (subscription: string, publisher: string) => void
  /** The socket completed a handshake with an endpoint. */
  readonly onHandshake: (endpoint: string) => void
  /** The socket lost its connection to an endpoint. */
  readonly onDisconnect: (endpoint: string) => void
  /** Fails every waiting confirmation with `LayerClosed`. */
  readonly close: () => void
  /** Publishers known in the current generation. */
  readonly publishers: () => ReadonlySet<string>
}

/**
 * What confirmations are made of.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly socket: zmq.Subscriber
  /** This process's direct subscription: whoever acknowledges it is a publisher. */
  readonly own: string
  readonly minimumPublishers: number
  readonly timeout: number
  /** Words for the error when a confirmation times out ("the proxy at tcp://..."). */
  readonly describe: () => string
  readonly lastProblem: () => string | undefined
}

type Resume = (effect: Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed>) => void

interface State {
  generation: number
  acks: Set<string>
  readonly waiters: Set<Resume>
}

/**
 * Makes the subscription bookkeeping of a SUB socket.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Confirmations => {
  const { socket, own } = options
  const states = new Map<string, State>()
  const connected = new Set<string>()
  let generation = 0
  let closed = false

  const publishers = (): ReadonlySet<string> => {
    const state = states.get(own)
    return state !== undefined && state.generation === generation ? state.acks : new Set()
  }

  const satisfied = (state: State): boolean => {
    if (state.generation !== generation) return false
    if (state.acks.size < Math.max(options.minimumPublishers, connected.size)) return false
    for (const publisher of publishers()) if (!state.acks.has(publisher)) return false
    return true
  }

  const settle = (state: State) => {
    if (state.waiters.size === 0 || !satisfied(state)) return
    const waiters = [...state.waiters]
    state.waiters.clear()
    for (const resume of waiters) resume(Effect.void)
  }

  const settleAll = () => {
    for (const state of states.values()) settle(state)
  }

  const poke = (subscription: string) => {
    socket.subscribe(subscription)
    socket.unsubscribe(subscription)
  }

  /** Starts a new generation for one subscription and asks the publishers to acknowledge it again. */
  const renew = (subscription: string, state: State) => {
    state.generation = generation
    state.acks = new Set()
    poke(subscription)
  }

  const newGeneration = () => {
    generation++
    const own_ = states.get(own)
    if (own_ !== undefined) renew(own, own_)
    for (const [subscription, state] of states) {
      if (subscription !== own && state.waiters.size > 0) renew(subscription, state)
    }
    settleAll()
  }

  const timedOut = () =>
    new Errors.ConnectionClosed({
      reason: `no confirmation within ${options.timeout} ms that the subscription reached ${options.describe()}` +
        ` (${publishers().size} publishers acknowledged, ${connected.size} connected)` +
        (options.lastProblem() === undefined ? "" : `; last connection problem: ${options.lastProblem()}`)
    })

  const confirm = (subscription: string) =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(new Errors.LayerClosed())
      const state = states.get(subscription)
      if (state === undefined) return Effect.void // unsubscribed meanwhile: nothing to confirm
      if (satisfied(state)) return Effect.void
      if (state.generation !== generation) renew(subscription, state)
      const waiting = state
      return Effect.async<void, Errors.ConnectionClosed | Errors.LayerClosed>((resume) => {
        waiting.waiters.add(resume)
        settle(waiting)
        return Effect.sync(() => {
          waiting.waiters.delete(resume)
        })
      }).pipe(
        Effect.timeoutFail({ duration: Duration.millis(options.timeout), onTimeout: timedOut })
      )
    })

  return {
    subscribe: (subscription) => {
      if (states.has(subscription)) return
      states.set(subscription, { generation, acks: new Set(), waiters: new Set() })
      socket.subscribe(subscription)
    },
    unsubscribe: (subscription) => {
      const state = states.get(subscription)
      if (state === undefined) return
      states.delete(subscription)
      socket.unsubscribe(subscription)
      for (const resume of state.waiters) resume(Effect.void)
    },
    confirm,
    onAck: (subscription, publisher) => {
      const state = states.get(subscription)
      if (state === undefined) return
      if (state.generation !== generation) {
        state.generation = generation
        state.acks = new Set()
      }
      state.acks.add(publisher)
      if (subscription === own) settleAll()
      else settle(state)
    },
    onHandshake: (endpoint) => {
      connected.add(endpoint)
    },
    onDisconnect: (endpoint) => {
      if (connected.delete(endpoint)) newGeneration()
    },
    close: () => {
      closed = true
      for (const state of states.values()) {
        for (const resume of state.waiters) resume(Effect.fail(new Errors.LayerClosed()))
        state.waiters.clear()
      }
    },
    publishers
  }
}
