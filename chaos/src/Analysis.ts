/**
 * From what the producers sent, what the consumer received and the faults injected, to the
 * counts of the table: what was lost (and why, when the loss is allowed), duplicated, reordered,
 * and how long delivery took to resume after each fault. Pure functions.
 */
import type { Fault } from "./Faults.js"
import { describe, repairedAt } from "./Faults.js"
import { type ArrivalRecord, type Kind, messageKey, OK, type SendRecord } from "./Records.js"

export interface AnalysisInput {
  readonly sends: ReadonlyArray<SendRecord>
  /** In the order the consumer received them. */
  readonly arrivals: ReadonlyArray<ArrivalRecord>
  readonly faults: ReadonlyArray<Fault>
  /** When sending started (for the times in descriptions). */
  readonly startedAt: number
  /**
   * How long before a kill (or a broker stop) an accepted message may still have been inside the
   * killed process or the stopped queue; see {@link lossWindows}.
   */
  readonly killMarginMillis: number
  /**
   * `channel_layer_messages_rejected_full` summed over the producers (`null`: unknown): sends
   * refused with `ChannelFull`, and group sends a full member queue refused (see `fullQueue`).
   */
  readonly rejectedFull?: number | null
}

/**
 * Why a message whose send succeeded never arrived.
 * - `silent`: no fault explains it; the contract does not allow it.
 * - `restartWindow`: a group send while the broker restarted, before the consumer's group
 *   binding was back (the groups exchange is not durable, for compatibility with Python's
 *   channels_rabbitmq, so bindings come back only when the member reconnects).
 * - `restartQueue`: in the consumer's queue when the broker stopped, where the queue does not
 *   survive a restart (a classic queue is not durable; a quorum queue is).
 * - `killedProxy`: inside the ZeroMQ proxy when it was killed, or published by the new one before
 *   the consumer had subscribed again (PUB/SUB is at most once).
 * - `killedSender`: still inside the ZeroMQ producer that was killed (queued in its PUB socket).
 * - `fullQueue`: a group send that a full member queue refused: the group send succeeds and that
 *   member misses it, counted and logged, as the contract says (a direct send fails with
 *   `ChannelFull` instead). Which group sends they were is not known, only how many: as many
 *   otherwise unexplained lost group sends as the producers counted are put down to it.
 * - `senderJoining`: a group send of the ZeroMQ producer that replaced it, before its PUB socket
 *   had the consumer's subscriptions (a PUB socket drops what no subscriber asked for; a new
 *   process holds direct messages for a subscriber it does not know yet, but cannot know who
 *   wants a group's).
 */
export type LossReason =
  | "silent"
  | "restartWindow"
  | "restartQueue"
  | "fullQueue"
  | "killedProxy"
  | "killedSender"
  | "senderJoining"

/** A stretch of time in which a lost message of the given kinds (and sender) has a reason. */
export interface LossWindow {
  readonly reason: Exclude<LossReason, "silent">
  readonly kinds: ReadonlyArray<Kind>
  /** Only messages of this sender (the killed one). */
  readonly sender?: string | undefined
  readonly from: number
  readonly to: number
}

/**
 * The first arrival (its time) of a message of `kind` (any kind when absent) whose send started
 * at or after `after`: the proof that delivery works again after a fault.
 */
export type FirstArrivalAfter = (after: number, kind?: Kind) => number | undefined

/**
 * The rule that sorts allowed losses from silent ones: a lost message has a reason when its send
 * (from start to end) overlaps the window of that reason.
 * - Broker restart: group sends from `stop_app` until the first group message sent after
 *   `start_app` returned arrives; where the queue does not survive the restart, also the sends
 *   confirmed within `killMargin` before `stop_app` and until it returned (they were in the queue).
 * - Proxy kill: sends from `killMargin` before the kill until the first message of the same kind
 *   sent after the new proxy listened arrives.
 * - Sender kill: sends of the killed producer that ended within `killMargin` before the kill; group
 *   sends of its replacement until the first group message it sent arrives.
 * A window whose end never came (nothing arrived after the repair) stays open to the end of the
 * run; that run also fails for not recovering.
 */
export const lossWindows = (
  faults: ReadonlyArray<Fault>,
  firstArrivalAfter: FirstArrivalAfter,
  killMarginMillis: number
): ReadonlyArray<LossWindow> =>
  faults.flatMap((fault): ReadonlyArray<LossWindow> => {
    switch (fault._tag) {
      case "Cut":
        return []
      case "BrokerRestart":
        return [
          ...(fault.queueLost
            ? [{
              reason: "restartQueue" as const,
              kinds: ["direct", "group"] as const,
              from: fault.at - killMarginMillis,
              to: fault.down
            }]
            : []),
          {
            reason: "restartWindow",
            kinds: ["group"],
            from: fault.at,
            to: firstArrivalAfter(fault.up, "group") ?? Infinity
          }
        ]
      case "ProxyKill":
        return (["direct", "group"] as const).map((kind) => ({
          reason: "killedProxy",
          kinds: [kind],
          from: fault.at - killMarginMillis,
          to: firstArrivalAfter(fault.up, kind) ?? Infinity
        }))
      case "SenderKill":
        return [{
          reason: "killedSender",
          kinds: ["direct", "group"],
          sender: fault.sender,
          from: fault.at - killMarginMillis,
          to: fault.at
        }, {
          reason: "senderJoining",
          kinds: ["group"],
          sender: fault.replacement,
          from: fault.up,
          to: firstArrivalAfter(fault.up, "group") ?? Infinity
        }]
    }
  })

/** Why `send` (ok, never delivered) was lost: the first window it falls in, else `silent`. */
export const lossReason = (send: SendRecord, windows: ReadonlyArray<LossWindow>): LossReason =>
  windows.find((window) =>
    window.kinds.includes(send.kind) &&
    (window.sender === undefined || window.sender === send.sender) &&
    send.start <= window.to && send.end >= window.from
  )?.reason ?? "silent"

/** Median and maximum of a list of durations; `null` when empty. */
export const medianAndMax = (
  values: ReadonlyArray<number>
): { readonly median: number | null; readonly max: number | null } => {
  if (values.length === 0) return { median: null, max: null }
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  return { median, max: sorted[sorted.length - 1] }
}

export interface Recovery {
  readonly fault: string
  /** From the cut (or the repair: node started, proxy listening, replacement sending) to the first arrival of a message sent after it; `null`: none arrived. */
  readonly millis: number | null
}

export interface Tally {
  readonly okDirect: number
  readonly okGroup: number
  /** Failed sends by the `_tag` of their error. */
  readonly failed: Readonly<Record<string, number>>
  /** Sends that failed but arrived anyway (a lost confirm: allowed, and not a duplicate). */
  readonly failedButDelivered: number
  /** Distinct messages received. */
  readonly delivered: number
  /** Received, but the producer never recorded the send's end (killed while it was in flight). */
  readonly deliveredUnrecorded: number
  readonly lost: Readonly<Record<LossReason, number>>
  readonly duplicates: number
  readonly outOfOrder: number
  readonly cutRecoveries: ReadonlyArray<Recovery>
  readonly repairRecoveries: ReadonlyArray<Recovery>
  /** Silent losses grouped by the fault nearest to the end of their send (`null`: no fault at all): where to look. */
  readonly silentLossNear: ReadonlyArray<{ readonly fault: string | null; readonly count: number }>
  /** A few silently lost messages, for a look at the records. */
  readonly silentLossExamples: ReadonlyArray<string>
}

interface Delivery {
  readonly arrival: ArrivalRecord
  readonly send: SendRecord | undefined
}

export const analyse = (input: AnalysisInput): Tally => {
  const sends = new Map<string, SendRecord>()
  for (const send of input.sends) sends.set(messageKey(send), send)

  const arrivalCounts = new Map<string, number>()
  const firstArrivals: Array<Delivery> = []
  for (const arrival of input.arrivals) {
    const key = messageKey(arrival)
    const count = (arrivalCounts.get(key) ?? 0) + 1
    arrivalCounts.set(key, count)
    if (count === 1) firstArrivals.push({ arrival, send: sends.get(key) })
  }

  const firstArrivalAfter: FirstArrivalAfter = (after, kind) =>
    firstArrivals.find(({ arrival, send }) =>
      send !== undefined && send.start >= after && (kind === undefined || arrival.kind === kind)
    )?.arrival.at

  const windows = lossWindows(input.faults, firstArrivalAfter, input.killMarginMillis)
  const lost: Record<LossReason, number> = {
    silent: 0,
    restartWindow: 0,
    restartQueue: 0,
    fullQueue: 0,
    killedProxy: 0,
    killedSender: 0,
    senderJoining: 0
  }
  const failed: Record<string, number> = {}
  const silentLossNear = new Map<string | null, number>()
  const silentLossExamples: Array<string> = []
  let okDirect = 0
  let okGroup = 0
  let failedButDelivered = 0

  // Group sends refused by a full member queue: what the producers counted beyond their sends
  // that failed with ChannelFull (counted after the loop below, so computed from the records).
  let refusedGroupSends = 0
  if (input.rejectedFull !== undefined && input.rejectedFull !== null) {
    let channelFull = 0
    for (const send of sends.values()) if (send.outcome === "ChannelFull") channelFull++
    refusedGroupSends = Math.max(0, input.rejectedFull - channelFull)
  }

  for (const [key, send] of sends) {
    const arrived = arrivalCounts.has(key)
    if (send.outcome !== OK) {
      failed[send.outcome] = (failed[send.outcome] ?? 0) + 1
      if (arrived) failedButDelivered++
      continue
    }
    if (send.kind === "direct") okDirect++
    else okGroup++
    if (arrived) continue
    let reason = lossReason(send, windows)
    if (reason === "silent" && send.kind === "group" && refusedGroupSends > 0) {
      refusedGroupSends--
      reason = "fullQueue"
    }
    lost[reason]++
    if (reason === "silent") {
      const near = nearestFault(input.faults, send.end)
      const label = near === undefined ? null : describe(near, input.startedAt)
      silentLossNear.set(label, (silentLossNear.get(label) ?? 0) + 1)
      if (silentLossExamples.length < 5) {
        silentLossExamples.push(
          `${key} (${send.kind}, sent ${((send.start - input.startedAt) / 1000).toFixed(3)} s)`
        )
      }
    }
  }

  let duplicates = 0
  for (const count of arrivalCounts.values()) duplicates += count - 1

  return {
    okDirect,
    okGroup,
    failed,
    failedButDelivered,
    delivered: arrivalCounts.size,
    deliveredUnrecorded: firstArrivals.filter(({ send }) => send === undefined).length,
    lost,
    duplicates,
    outOfOrder: countOutOfOrder(firstArrivals),
    cutRecoveries: input.faults.flatMap((fault) =>
      fault._tag === "Cut" && fault.connections > 0 ? [recovery(fault, firstArrivalAfter, input.startedAt)] : []
    ),
    repairRecoveries: input.faults.flatMap((fault) =>
      fault._tag === "Cut" ? [] : [recovery(fault, firstArrivalAfter, input.startedAt)]
    ),
    silentLossNear: [...silentLossNear].map(([fault, count]) => ({ fault, count })),
    silentLossExamples
  }
}

/**
 * The fault closest in time to `at`: one in progress then (between its start and its repair), or
 * the one that started or was repaired nearest. Not "the last one before": a message confirmed a
 * millisecond before a cut of the consumer is lost with the queue that cut deletes.
 */
export const nearestFault = (faults: ReadonlyArray<Fault>, at: number): Fault | undefined => {
  const distance = (fault: Fault) =>
    at >= fault.at && at <= repairedAt(fault) ? 0 : Math.min(Math.abs(at - fault.at), Math.abs(at - repairedAt(fault)))
  let nearest: Fault | undefined
  for (const fault of faults) if (nearest === undefined || distance(fault) < distance(nearest)) nearest = fault
  return nearest
}

const recovery = (fault: Fault, firstArrivalAfter: FirstArrivalAfter, startedAt: number): Recovery => {
  const from = repairedAt(fault)
  const arrived = firstArrivalAfter(from)
  return { fault: describe(fault, startedAt), millis: arrived === undefined ? null : arrived - from }
}

/**
 * Messages that arrived after a message of the same sender and kind whose send started only
 * after theirs had succeeded: a FIFO violation. Sends that overlapped in time (several are in
 * flight) have no order to keep, so a plain comparison of sequence numbers would be wrong.
 */
export const countOutOfOrder = (deliveries: ReadonlyArray<Delivery>): number => {
  const latestStart = new Map<string, number>()
  let count = 0
  for (const { send } of deliveries) {
    if (send === undefined) continue
    const stream = `${send.sender}/${send.kind}`
    const latest = latestStart.get(stream) ?? -Infinity
    if (send.outcome === OK && send.end < latest) count++
    latestStart.set(stream, Math.max(latest, send.start))
  }
  return count
}
