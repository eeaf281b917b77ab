/**
 * The process-wide state the hot paths (every send and receive) keep for speed, in one place.
 * Each item says what it saves, as the bench measured it when it came in (in-memory send and
 * receive, where the layer's own work is all there is to measure). None of it is exported from
 * the package; everything else in core is per layer instance.
 */
import { Effect } from "effect"
import { ChannelFull } from "../Errors.js"

/** The clock every Effect program has unless one (`TestClock`, say) is provided. */
export const liveClock = Effect.runSync(Effect.clock)

/** The tracer every Effect program has unless one (OpenTelemetry, say) is provided. */
export const defaultTracer = Effect.runSync(Effect.tracer)

let cachedNow = 0
let cachedNowStale = true
const staleNow = () => {
  cachedNowStale = true
}

/**
 * The live clock's time, read once per run of synchronous code (until the next microtask). The
 * local queues ask for the time on every send and receive, and `Date.now()` cost about as much
 * as the rest of a receive; expiry deadlines of seconds do not need more than that. Only for the
 * live clock: any other clock (`TestClock`) is read every time.
 */
export const coarseNow = (): number => {
  if (cachedNowStale) {
    cachedNow = liveClock.unsafeCurrentTimeMillis()
    cachedNowStale = false
    queueMicrotask(staleNow)
  }
  return cachedNow
}

let lastFull: ChannelFull | undefined

/**
 * The `ChannelFull` of a send that found a local channel full, for senders retrying against it:
 * without a stack trace (it would show only the layer's internals) and, while the same channel
 * keeps failing, the same instance. Errors are immutable values, so sharing one is safe;
 * constructing a Schema error with a stack cost several microseconds, more than the send itself.
 */
export const channelFull = (channel: string, capacity: number): ChannelFull => {
  const last = lastFull
  if (last !== undefined && last.channel === channel && last.capacity === capacity) return last
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    // true: the fields are ours, skip validating them.
    return lastFull = new ChannelFull({ channel, capacity }, true)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * Names that passed their check lately. Sends and receives name the same few channels again and
 * again, and looking a name up (6 ns) cost a fifth of matching the pattern (26 ns): the string
 * keeps its hash. Bounded: cleared when full, so a stream of one-off names costs a check each and
 * holds no memory.
 */
export class RecentlyValid {
  private readonly names = new Set<string>()
  constructor(private readonly capacity: number) {}
  has(name: string): boolean {
    return this.names.has(name)
  }
  add(name: string): void {
    if (this.names.size >= this.capacity) this.names.clear()
    this.names.add(name)
  }
}

/** The slab encoded bodies are carved out of, and how much of it is used. */
const SLAB_SIZE = 16 * 1024
/** Bigger values get a backing store of their own. */
export const SLAB_MAX_VALUE = 2 * 1024
let slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE)
let slabOffset = 0

/**
 * A copy of `source[0, size)` for an encoded body of at most `SLAB_MAX_VALUE` bytes, carved out of
 * a shared slab as Node's `Buffer.allocUnsafe` does: a `Uint8Array` with a backing store of its
 * own cost several times what encoding a small message does. A slab is never written twice, so a
 * body stays intact for as long as anyone holds it (and holds its slab).
 */
export const carve = (source: Buffer, size: number): Uint8Array => {
  if (slabOffset + size > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
    slabOffset = 0
  }
  const out = new Uint8Array(slab.buffer, slab.byteOffset + slabOffset, size)
  source.copy(slab, slabOffset, 0, size)
  // 8-byte aligned, like Node's pool.
  slabOffset = (slabOffset + size + 7) & ~7
  return out
}
