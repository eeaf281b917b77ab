/**
 * The one reader fiber of a socket (zeromq.js allows one pending receive per socket). It keeps a
 * receive pending at all times, so a SUB socket goes on reading across reconnects, and hands
 * what arrived to a handler in batches: after the first message of a batch it takes whatever
 * else the socket already holds, so a burst costs one turn of the fiber, not one per message.
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
  readonly readable: boolean
  readonly closed: boolean
}

const readBatch = async (socket: Readable, max: number): Promise<Array<Array<Buffer>> | undefined> => {
  const first = await socket.receive()
  // zeromq.js resolves a pending receive with undefined when the socket closes.
  if (first === undefined) return undefined
  const batch = [first]
  while (batch.length < max && !socket.closed && socket.readable) {
    const next = await socket.receive()
    if (next === undefined) break
    batch.push(next)
  }
  return batch
}

/**
 * Starts the reader fiber of a socket in the current scope; it ends when the socket closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  socket: Readable,
  role: string,
  handle: (batch: ReadonlyArray<Array<Buffer>>) => Effect.Effect<void>,
  maxBatch = 512
): Effect.Effect<void, never, Scope.Scope> => {
  const step: Effect.Effect<boolean> = Effect.tryPromise(() => readBatch(socket, maxBatch)).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        socket.closed
          ? Effect.succeed(false)
          : Effect.logWarning(`${role}: receive failed, retrying: ${String(error.cause)}`).pipe(
            Effect.zipRight(Effect.sleep(Duration.millis(10))),
            Effect.as(true)
          ),
      onSuccess: (batch) => batch === undefined ? Effect.succeed(false) : Effect.as(handle(batch), true)
    })
  )
  return step.pipe(
    Effect.repeat({ while: (more) => more }),
    Effect.interruptible,
    Effect.forkScoped,
    Effect.asVoid
  )
}
