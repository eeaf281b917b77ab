// The chaos run's bookkeeping on synthetic records: what counts as lost (and with which reason),
// duplicated, out of order, and the recovery times. No process, broker or socket.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { analyse, type AnalysisInput, medianAndMax } from "../src/Analysis.js"
import type { Fault } from "../src/Faults.js"
import type { ArrivalRecord, Kind, SendRecord } from "../src/Records.js"
import { failures, type RunResult } from "../src/Report.js"
import * as Table from "../src/Table.js"

const send = (
  seq: number,
  start: number,
  options: { end?: number; kind?: Kind; outcome?: string; sender?: string } = {}
): SendRecord => ({
  _tag: "send",
  sender: options.sender ?? "producer-1",
  seq,
  kind: options.kind ?? "direct",
  start,
  end: options.end ?? start + 5,
  outcome: options.outcome ?? "ok"
})

const arrival = (of: SendRecord, at: number): ArrivalRecord => ({
  _tag: "arrival",
  sender: of.sender,
  seq: of.seq,
  kind: of.kind,
  at
})

const input = (
  sends: ReadonlyArray<SendRecord>,
  arrivals: ReadonlyArray<ArrivalRecord>,
  faults: ReadonlyArray<Fault> = []
): AnalysisInput => ({ sends, arrivals, faults, startedAt: 0, killMarginMillis: 1_000 })

describe("analyse", () => {
  it("counts sends by outcome, deliveries, silent losses and duplicates", () => {
    const sends = [
      send(0, 0),
      send(1, 10, { kind: "group" }),
      send(2, 20, { outcome: "ConnectionClosed" }),
      send(3, 30, { outcome: "ChannelNotFound" }),
      send(4, 40)
    ]
    // 0 twice, 1 once, 2 arrives although its send failed (a lost confirm), 4 never.
    const arrivals = [arrival(sends[0], 100), arrival(sends[1], 101), arrival(sends[0], 102), arrival(sends[2], 103)]
    const tally = analyse(input(sends, arrivals))
    expect(tally).toMatchObject({
      okDirect: 2,
      okGroup: 1,
      failed: { ConnectionClosed: 1, ChannelNotFound: 1 },
      failedButDelivered: 1,
      delivered: 3,
      deliveredUnrecorded: 0,
      lost: {
        silent: 1,
        restartWindow: 0,
        restartQueue: 0,
        fullQueue: 0,
        killedProxy: 0,
        killedSender: 0,
        senderJoining: 0
      },
      duplicates: 1,
      outOfOrder: 0
    })
    expect(tally.silentLossExamples).toEqual(["producer-1#4 (direct, sent 0.040 s)"])
  })

  it("an arrival whose send never ended (its sender was killed) is delivered, not a stray", () => {
    const orphan = send(7, 0, { sender: "producer-1" })
    const tally = analyse(input([], [arrival(orphan, 50)]))
    expect(tally.delivered).toBe(1)
    expect(tally.deliveredUnrecorded).toBe(1)
  })

  it("out of order only when a message arrives after one whose send started once its own had succeeded", () => {
    const first = send(0, 0, { end: 10 })
    const overlapping = send(1, 5, { end: 20 }) // started before `first` ended: no order to keep
    const later = send(2, 30, { end: 40 })
    expect(
      analyse(input([first, overlapping, later], [
        arrival(overlapping, 50),
        arrival(first, 51),
        arrival(later, 52)
      ])).outOfOrder
    ).toBe(0)
    expect(
      analyse(input([first, overlapping, later], [
        arrival(later, 50),
        arrival(first, 51),
        arrival(overlapping, 52)
      ])).outOfOrder
    ).toBe(2)
    // Direct and group messages are separate streams, and so are senders.
    const group = send(3, 60, { kind: "group" })
    const other = send(0, 70, { sender: "producer-2" })
    expect(
      analyse(input([first, group, other], [arrival(group, 80), arrival(other, 81), arrival(first, 82)])).outOfOrder
    )
      .toBe(0)
  })

  it("the restart window: group sends from stop_app until a group message sent after start_app arrives", () => {
    const restart: Fault = { _tag: "BrokerRestart", at: 1_000, down: 1_500, up: 3_000, queueLost: false }
    const beforeStop = send(0, 900, { kind: "group", end: 950 })
    const whileDown = send(1, 2_000, { kind: "group", end: 3_100 })
    const directWhileDown = send(2, 2_000, { end: 3_100 })
    const afterStartNotYetBound = send(3, 3_200, { kind: "group" })
    const proof = send(4, 3_300, { kind: "group" })
    const afterProof = send(5, 4_000, { kind: "group" })
    const tally = analyse(input(
      [beforeStop, whileDown, directWhileDown, afterStartNotYetBound, proof, afterProof],
      [arrival(proof, 3_400)],
      [restart]
    ))
    expect(tally.lost).toEqual({
      silent: 3,
      restartWindow: 2,
      restartQueue: 0,
      fullQueue: 0,
      killedProxy: 0,
      killedSender: 0,
      senderJoining: 0
    })
    // All three nearest the restart: beforeStop ended 50 ms before it.
    expect(tally.silentLossNear).toEqual([{ fault: "broker restart at 1.0 s", count: 3 }])
    expect(tally.repairRecoveries).toEqual([{ fault: "broker restart at 1.0 s", millis: 400 }])
  })

  it("a restart that loses the queue: sends confirmed within the margin before stop_app, or until it returned", () => {
    const restart: Fault = { _tag: "BrokerRestart", at: 10_000, down: 10_500, up: 12_000, queueLost: true }
    const longBefore = send(0, 8_000, { end: 8_100 })
    const justBefore = send(1, 9_500, { end: 9_600 })
    const groupJustBefore = send(2, 9_700, { kind: "group", end: 9_800 })
    const duringStop = send(3, 10_100, { end: 10_200 })
    const proof = send(4, 12_500, { kind: "group" })
    const tally = analyse(
      input([longBefore, justBefore, groupJustBefore, duringStop, proof], [arrival(proof, 12_600)], [
        restart
      ])
    )
    // longBefore ended 1.9 s before the stop: the consumer, keeping up, should have had it.
    expect(tally.lost).toEqual({
      silent: 1,
      restartWindow: 0,
      restartQueue: 3,
      fullQueue: 0,
      killedProxy: 0,
      killedSender: 0,
      senderJoining: 0
    })
  })

  it("the killed proxy: from the margin before the kill until a message of that kind sent after the restart arrives", () => {
    const kill: Fault = { _tag: "ProxyKill", at: 10_000, up: 12_000 }
    const longBefore = send(0, 8_000)
    const justBefore = send(1, 9_500)
    const whileDown = send(2, 11_000, { kind: "group" })
    const directProof = send(3, 12_100)
    const groupAfterDirectProof = send(4, 12_300, { kind: "group" })
    const groupProof = send(5, 12_400, { kind: "group" })
    const directAfterProof = send(6, 12_600)
    const tally = analyse(input(
      [longBefore, justBefore, whileDown, directProof, groupAfterDirectProof, groupProof, directAfterProof],
      [arrival(directProof, 12_200), arrival(groupProof, 12_500)],
      [kill]
    ))
    // longBefore and directAfterProof have no reason; the others were in the proxy's window.
    expect(tally.lost).toEqual({
      silent: 2,
      restartWindow: 0,
      restartQueue: 0,
      fullQueue: 0,
      killedProxy: 3,
      killedSender: 0,
      senderJoining: 0
    })
    expect(tally.repairRecoveries).toEqual([{ fault: "proxy killed at 10.0 s", millis: 200 }])
  })

  it("the killed sender: only its own sends that ended within the margin before the kill", () => {
    const kill: Fault = { _tag: "SenderKill", at: 10_000, sender: "producer-1", replacement: "producer-2", up: 13_000 }
    const tally = analyse(input(
      [
        send(0, 5_000),
        send(1, 9_500),
        send(0, 9_600, { sender: "producer-2" }),
        send(1, 13_100, { sender: "producer-2" })
      ],
      [arrival(send(1, 13_100, { sender: "producer-2" }), 13_500)],
      [kill]
    ))
    expect(tally.lost).toEqual({
      silent: 2,
      restartWindow: 0,
      restartQueue: 0,
      fullQueue: 0,
      killedProxy: 0,
      killedSender: 1,
      senderJoining: 0
    })
    expect(tally.repairRecoveries).toEqual([{ fault: "producer-1 killed at 10.0 s", millis: 500 }])
  })

  it("the replacement sender: its group sends until one of them arrives (its subscribers were joining)", () => {
    const kill: Fault = { _tag: "SenderKill", at: 10_000, sender: "producer-1", replacement: "producer-2", up: 13_000 }
    const early = send(0, 13_050, { sender: "producer-2", kind: "group" })
    const earlyDirect = send(1, 13_060, { sender: "producer-2" })
    const proof = send(2, 13_300, { sender: "producer-2", kind: "group" })
    const late = send(3, 14_000, { sender: "producer-2", kind: "group" })
    const tally = analyse(input([early, earlyDirect, proof, late], [arrival(proof, 13_400)], [kill]))
    // A direct message is held for a subscriber the new sender does not know yet: its loss is silent.
    expect(tally.lost).toEqual({
      silent: 2,
      restartWindow: 0,
      restartQueue: 0,
      fullQueue: 0,
      killedProxy: 0,
      killedSender: 0,
      senderJoining: 1
    })
  })

  it("group sends a full member queue refused: as many lost group sends as the producers counted, beyond ChannelFull", () => {
    const cut: Fault = { _tag: "Cut", at: 1_000, side: "consumer", connections: 1 }
    const refusedDirect = send(0, 1_100, { outcome: "ChannelFull" })
    const groups = [
      send(1, 1_200, { kind: "group" }),
      send(2, 1_300, { kind: "group" }),
      send(3, 1_400, { kind: "group" })
    ]
    const direct = send(4, 1_500)
    // 3 counted by the layer: 1 the failed direct send, 2 group sends refused.
    const tally = analyse({ ...input([refusedDirect, ...groups, direct], [], [cut]), rejectedFull: 3 })
    expect(tally.lost.fullQueue).toBe(2)
    // The third lost group send and the lost direct one have no reason.
    expect(tally.lost.silent).toBe(2)
  })

  it("a silent loss is put down to the fault nearest to the end of its send, before or after it", () => {
    const faults: ReadonlyArray<Fault> = [
      { _tag: "Cut", at: 1_000, side: "producer", connections: 1 },
      { _tag: "Cut", at: 5_000, side: "consumer", connections: 1 },
      { _tag: "BrokerRestart", at: 8_000, down: 8_500, up: 10_000, queueLost: false }
    ]
    const tally = analyse(input(
      [send(0, 4_990, { end: 4_999 }), send(1, 9_000, { end: 10_200 }), send(2, 1_100)],
      [],
      faults
    ))
    expect(tally.silentLossNear).toEqual([
      { fault: "cut consumer at 5.0 s (1 connection)", count: 1 },
      { fault: "broker restart at 8.0 s", count: 1 },
      { fault: "cut producer at 1.0 s (1 connection)", count: 1 }
    ])
    expect(analyse(input([send(0, 0)], [])).silentLossNear).toEqual([{ fault: null, count: 1 }])
  })

  it("recovery after a cut: to the first arrival of a message sent after it, or never", () => {
    const cuts: ReadonlyArray<Fault> = [
      { _tag: "Cut", at: 1_000, side: "consumer", connections: 1 },
      { _tag: "Cut", at: 5_000, side: "both", connections: 2 }
    ]
    const beforeCut = send(0, 900)
    const afterCut = send(1, 1_100)
    const tally = analyse(input([beforeCut, afterCut], [arrival(beforeCut, 1_050), arrival(afterCut, 1_400)], cuts))
    expect(tally.cutRecoveries).toEqual([
      { fault: "cut consumer at 1.0 s (1 connection)", millis: 400 },
      { fault: "cut both at 5.0 s (2 connections)", millis: null }
    ])
  })

  it("without faults: every count adds up, and arrivals in send order are never out of order", () => {
    const runs = fc.array(
      fc.record({
        ok: fc.boolean(),
        group: fc.boolean(),
        gap: fc.integer({ min: 0, max: 20 }),
        duration: fc.integer({ min: 0, max: 30 }),
        copies: fc.integer({ min: 0, max: 3 })
      }),
      { maxLength: 200 }
    )
    fc.assert(fc.property(runs, (plan) => {
      let clock = 0
      const sends = plan.map((step, seq) => {
        clock += step.gap
        return send(seq, clock, {
          end: clock + step.duration,
          kind: step.group ? "group" : "direct",
          outcome: step.ok ? "ok" : "ConnectionClosed"
        })
      })
      const arrivals = sends.flatMap((s, i) => Array.from({ length: plan[i].copies }, () => arrival(s, 10_000 + i)))
      const tally = analyse(input(sends, arrivals))
      const ok = plan.filter((step) => step.ok)
      expect(tally.okDirect + tally.okGroup).toBe(ok.length)
      expect(tally.lost.silent).toBe(ok.filter((step) => step.copies === 0).length)
      expect(tally.delivered).toBe(plan.filter((step) => step.copies > 0).length)
      expect(tally.duplicates).toBe(plan.reduce((sum, step) => sum + Math.max(0, step.copies - 1), 0))
      expect(tally.outOfOrder).toBe(0)
    }))
  })
})

describe("medianAndMax", () => {
  it("takes the middle of an odd list, the mean of the two middles of an even one", () => {
    expect(medianAndMax([])).toEqual({ median: null, max: null })
    expect(medianAndMax([5, 1, 3])).toEqual({ median: 3, max: 5 })
    expect(medianAndMax([4, 1, 3, 2])).toEqual({ median: 2.5, max: 4 })
  })
})

describe("the verdict and the table", () => {
  const result = (overrides: Partial<RunResult> = {}): RunResult => {
    const sends = [send(0, 0), send(1, 10), send(2, 20)]
    return {
      name: "rabbitmq",
      sendingMillis: 15_000,
      sendRate: 300,
      faults: [{ _tag: "BrokerRestart", at: 1, down: 2, up: 3, queueLost: true }],
      tally: analyse(input(sends, [arrival(sends[0], 100), arrival(sends[2], 101)])),
      unroutable: 1,
      producerRss: { start: 100 * 1024 * 1024, end: 120 * 1024 * 1024 },
      consumerRss: { start: 90 * 1024 * 1024, end: null },
      producerAlive: true,
      consumerAlive: false,
      malformedRecords: 0,
      ...overrides
    }
  }

  it("fails a run on silent loss and a dead process, not on allowed losses", () => {
    expect(failures(result())).toEqual([
      "1 sends that succeeded were never delivered",
      "the consumer died"
    ])
    const allowedOnly = result({
      consumerAlive: true,
      tally: {
        ...result().tally,
        lost: {
          silent: 0,
          restartWindow: 4,
          restartQueue: 0,
          fullQueue: 0,
          killedProxy: 0,
          killedSender: 0,
          senderJoining: 0
        }
      }
    })
    expect(failures(allowedOnly)).toEqual([])
    expect(failures({ name: "zeromq-embedded", error: "boom\ndetails" })).toEqual([
      "the run could not be carried out: boom"
    ])
  })

  it("renders one column per run, a dash where a loss reason does not apply, and the verdict", () => {
    const table = Table.render([result(), { name: "zeromq-embedded", error: "boom" }])
    const lines = table.split("\n")
    expect(lines[0]).toBe("|  | rabbitmq | zeromq-embedded |")
    expect(table).toContain("| lost in the restart window (group sends before the binding is back) | 0 | - |")
    expect(table).toContain("| lost in the killed proxy | - | - |")
    expect(table).toContain("| consumer RSS, start → end | 90 → ? MiB | - |")
    expect(table).toContain("| alive at the end | consumer DEAD | - |")
    expect(lines.at(-1)).toBe("| verdict | **FAIL** | **FAIL** |")
    expect(Table.notes([result()])).toContain("rabbitmq: FAIL: 1 sends that succeeded were never delivered")
    expect(Table.notes([result()])).toContain(
      "silent losses by the fault nearest to the end of their send: 1 with no fault injected"
    )
  })
})
