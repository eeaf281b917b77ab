/**
 * The faults a run injects, as the orchestrator records them (epoch milliseconds, the clock the
 * workers' records use too: all processes run on this machine).
 */
import { Effect, Ref } from "effect"

export type Fault =
  /** `TcpProxy.cutAll` on the producer's proxy, the consumer's, or both; `connections` it reset. */
  | { readonly _tag: "Cut"; readonly at: number; readonly side: CutSide; readonly connections: number }
  /**
   * `rabbitmqctl stop_app` issued `at`, returned `down`; `start_app` returned `up`. `queueLost`:
   * the consumer's queue does not survive a restart (a classic queue is not durable).
   */
  | {
    readonly _tag: "BrokerRestart"
    readonly at: number
    readonly down: number
    readonly up: number
    readonly queueLost: boolean
  }
  /** The ZeroMQ proxy killed with SIGKILL `at`, listening again on the same ports `up`. */
  | { readonly _tag: "ProxyKill"; readonly at: number; readonly up: number }
  /** A producer killed with SIGKILL `at`; its replacement was sending from `up`. */
  | {
    readonly _tag: "SenderKill"
    readonly at: number
    readonly sender: string
    readonly replacement: string
    readonly up: number
  }

export type CutSide = "producer" | "consumer" | "both"

/** The moment a fault was repaired (a cut is over at once: the layers reconnect by themselves). */
export const repairedAt = (fault: Fault): number => fault._tag === "Cut" ? fault.at : fault.up

/** A short description, with the time relative to the start of sending. */
export const describe = (fault: Fault, startedAt: number): string => {
  const at = `${((fault.at - startedAt) / 1000).toFixed(1)} s`
  switch (fault._tag) {
    case "Cut":
      return `cut ${fault.side} at ${at} (${fault.connections} connection${fault.connections === 1 ? "" : "s"})`
    case "BrokerRestart":
      return `broker restart at ${at}`
    case "ProxyKill":
      return `proxy killed at ${at}`
    case "SenderKill":
      return `${fault.sender} killed at ${at}`
  }
}

/** Where the faults of a run are written down as they happen. */
export interface FaultLog {
  readonly record: (fault: Fault) => Effect.Effect<void>
  readonly all: Effect.Effect<ReadonlyArray<Fault>>
}

export const makeLog: Effect.Effect<FaultLog> = Effect.map(Ref.make<ReadonlyArray<Fault>>([]), (ref) => ({
  record: (fault) => Ref.update(ref, (faults) => [...faults, fault]),
  all: Ref.get(ref)
}))

/**
 * When the kills of a run happen, as offsets from the start of sending: one per 30 s of run (at
 * least one), evenly spaced, so that each has time to recover before the next and the end.
 */
export const killOffsets = (durationMillis: number): ReadonlyArray<number> => {
  const count = Math.max(1, Math.floor(durationMillis / 30_000))
  return Array.from({ length: count }, (_, i) => Math.round((durationMillis * (i + 1)) / (count + 1)))
}
