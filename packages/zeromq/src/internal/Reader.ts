/**
 * The one reader fiber of a socket (zeromq.js allows one pending receive per socket). It keeps a
 * receive pending at all times, so a SUB socket goes on reading across reconnects.
 *
 * The per-message path is plain JavaScript: the fiber runs one loop that awaits each receive and
 * hands the frames to a synchronous handler (which may return a promise to wait on, e.g. for
 * room in an outbox). An Effect step per message would cost more than the message itself. The
 * fiber only comes back to Effect when the socket closes, or when a receive fails (logged, then
 * tried again after a pause).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect } from "effect"

/**
 * What the reader needs of a socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Readable {
  readonly receive: () => Promise<Array<Buffer>>
  readonly closed: boolean
}

/**
 * Handles one received message; a returned promise is awaited before the next receive.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (frames: Array<Buffer>) => void | Promise<void>

type Stop = { readonly _tag: "Closed" } | { readonly _tag: "Failed"; readonly error: unknown }

const loop = async (socket: Readable, handle: Handler): Promise<Stop> => {
  for (;;) {
    let frames: Array<Buffer> | undefined
    try {
      frames = await socket.receive()
    } catch (error) {
      return socket.closed ? { _tag: "Closed" } : { _tag: "Failed", error }
    }
    // zeromq.js resolves a pending receive with undefined when the socket closes.
    if (frames === undefined) return { _tag: "Closed" }
    try {
      const waiting = handle(frames)
      if (waiting !== undefined) await waiting
    } catch (error) {
      return { _tag: "Failed", error }
    }
  }
}

/**
 * Starts the reader fiber of a socket in the current scope; it ends when the socket closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (socket: Readable, role: string, handle: Handler): Effect.Effect<void, never, Scope.Scope> => {
  const run: Effect.Effect<void> = Effect.promise(() => loop(socket, handle)).pipe(
    Effect.flatMap((stop) =>
      stop._tag === "Closed"
        ? Effect.void
        : Effect.logWarning(`${role}: receive failed, retrying: ${String(stop.error)}`).pipe(
          Effect.zipRight(Effect.sleep(Duration.millis(10))),
          Effect.zipRight(Effect.suspend(() => run))
        )
    )
  )
  return Effect.asVoid(Effect.forkScoped(Effect.interruptible(run)))
}
