import { Errors, type Message } from "@channel-layer/core"
import { Context, Effect, Layer, Queue } from "effect"
import { describe, expect, it } from "vitest"
import * as ChannelLayerAdapter from "../src/ChannelLayerAdapter.js"
import * as EffectQueue from "../src/floors/EffectQueue.js"
import type * as PythonPeer from "../src/PythonPeer.js"
import * as Report from "../src/Report.js"
import type { BenchConfig, ScenarioContext } from "../src/Scenario.js"
import { latency, throughput } from "../src/Scenario.js"
import * as Summary from "../src/Summary.js"
import * as Transport from "../src/Transport.js"

// The plug-in path without a real transport: a tiny fake ChannelLayer whose channels hold 10
// messages and fail a send to a full channel with ChannelFull, as the in-memory layer does.

class FakeLayer extends Context.Tag("bench/test/FakeLayer")<FakeLayer, ChannelLayerAdapter.ChannelLayerService>() {}

const fakeLayer = Layer.sync(FakeLayer, () => {
  const channels = new Map<string, Queue.Queue<Message.Message>>()
  let next = 0
  const channel = (name: string) => {
    const queue = channels.get(name)
    return queue ? Effect.succeed(queue) : Effect.dieMessage(`no channel ${name}`)
  }
  return {
    newChannel: (prefix) =>
      Effect.map(Queue.dropping<Message.Message>(10), (queue) => {
        const name = `${prefix ?? "fake"}!${next++}`
        channels.set(name, queue)
        return name
      }),
    send: (name, message) =>
      channel(name).pipe(
        Effect.flatMap((queue) => Queue.offer(queue, structuredClone(message))),
        Effect.flatMap((accepted) => accepted ? Effect.void : Effect.fail(new Errors.ChannelFull({ channel: name })))
      ),
    receive: (name) => Effect.flatMap(channel(name), Queue.take),
    groupAdd: () => Effect.void,
    groupDiscard: () => Effect.void,
    groupSend: () => Effect.void
  }
})

const config: BenchConfig = {
  quick: true,
  count: 500,
  warmup: 100,
  latencyRate: 1_000,
  latencySeconds: 0.2,
  amqpUrl: "amqp://unused",
  timeoutMs: 10_000
}

const context: ScenarioContext = { config, progress: () => {}, phase: () => {} }

describe("Transport.scenarios over ChannelLayerAdapter.make", () => {
  const adapter = ChannelLayerAdapter.make({
    transport: "fake",
    tag: FakeLayer,
    sender: fakeLayer,
    floors: { throughput: EffectQueue.floor, latency: "floor-latency", latencyTarget: "floor-amqp-latency" },
    targetRatio: 0.5,
    rounds: 2
  })

  it("names the scenarios after the transport; the latency scenario requires its floors", () => {
    const scenarios = Transport.scenarios(adapter)
    expect(scenarios.map((s) => s.name)).toEqual(["p2p-fake-w1", "p2p-fake-w100", "latency-fake"])
    expect(scenarios.map((s) => s.requires)).toEqual([undefined, undefined, ["floor-latency", "floor-amqp-latency"]])
  })

  it("moves every message and reports rates, latencies and retries", async () => {
    const [w1, w100, latency] = await Promise.all(
      Transport.scenarios(adapter).map((s) => Effect.runPromise(Effect.scoped(s.run(context))))
    )
    expect(w1.measurements[0]).toMatchObject({ scenario: "p2p-fake-w1", transport: "fake", metric: "msg/s" })
    expect(w1.measurements[0].value).toBeGreaterThan(0)
    expect(w100.measurements[0].value).toBeGreaterThan(0)
    // The floor ran next to each round: two timed rounds of each.
    expect(w100.measurements[0].pairedFloor?.transport).toBe("effect-queue")
    expect(w100.measurements[0].pairedFloor?.value).toBeGreaterThan(0)
    expect(w100.details).toMatchObject({ rounds: 2, roundsMs: [expect.any(Number), expect.any(Number)] })
    expect((w100.details.floor as { roundsMs: Array<number> }).roundsMs).toHaveLength(2)
    // 100 sends in flight into a channel of 10: the adapter retried the ChannelFull failures.
    expect(w100.details.channelFullRetries).toBeGreaterThan(0)
    expect(latency.measurements.map((m) => m.metric)).toEqual([
      "p50 ms",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "gc max pause ms",
      "p50 ms, fiber/send @1000/s",
      "p99 ms, fiber/send @1000/s",
      "p99.9 ms, fiber/send @1000/s",
      "max ms, fiber/send @1000/s",
      "gc max pause ms, fiber/send @1000/s"
    ])
    const run = { summary: { sent: 200, delivered: 200, duplicates: 0 }, sendFailures: 0 }
    expect(latency.details).toMatchObject({ pooled: run, fiberPerSend1000: run })
  })

  const withPeer = (availability: PythonPeer.Availability) =>
    ChannelLayerAdapter.make({
      transport: "fake",
      tag: FakeLayer,
      sender: fakeLayer,
      floors: {
        throughput: EffectQueue.floor,
        peer: { label: "peer", open: () => Effect.succeed(availability) }
      },
      rounds: 2
    })

  it("runs a peer's rounds next to its own and compares them; without the peer, says why", async () => {
    const percentiles = { sent: 200, delivered: 200, duplicates: 0, p50: 1, p99: 2, p999: 3, max: 4, mean: 1 }
    const rounds: Array<string> = []
    const running = withPeer({
      _tag: "Running",
      peer: {
        p2p: (window, count) => Effect.sync(() => (rounds.push(`p2p ${window} ${count}`), 1_000)),
        fanout: () => Effect.die("unused"),
        latency: (rate) => Effect.sync(() => (rounds.push(`latency ${rate}`), percentiles))
      }
    })
    const [w1, , latency] = Transport.scenarios(running)
    const ran = await Effect.runPromise(Effect.scoped(w1.run(context)))
    // A warm-up round and two timed rounds, the messages of a round per round.
    expect(rounds).toEqual(["p2p 1 100", "p2p 1 500", "p2p 1 500"])
    expect(ran.measurements[1]).toMatchObject({
      metric: "msg/s vs peer",
      pairedFloor: { transport: "peer", value: 500 },
      target: { kind: "ratio-at-least", value: Transport.peerTargets.window1 }
    })
    const timed = await Effect.runPromise(Effect.scoped(latency.run(context)))
    expect(rounds.slice(3)).toEqual(Transport.peerLatencyRates.map((rate) => `latency ${rate}`))
    expect(timed.measurements.find((m) => m.metric === "p99 ms, fiber/send @500/s")?.pairedFloor).toEqual({
      transport: "peer",
      value: 2
    })

    const missing = withPeer({ _tag: "Unavailable", reason: "no python3 here" })
    const [w1Missing] = Transport.scenarios(missing)
    const notRun = await Effect.runPromise(Effect.scoped(w1Missing.run(context)))
    expect(notRun.notes).toEqual(["peer rows not run: no python3 here"])
    expect(Report.table(Report.rows(notRun.measurements), [])).toContain("(not run)")
  })
})

describe("Report.rows", () => {
  it("computes ratios against the floor of the same run and checks targets", () => {
    const results = Report.rows([
      throughput("floor", "raw", 1000),
      throughput("fast", "layer", 950, { floor: "floor", target: { kind: "ratio-at-least", value: 0.9 } }),
      throughput("slow", "layer", 500, { floor: "floor", target: { kind: "ratio-at-least", value: 0.9 } }),
      throughput("orphan", "layer", 500, { floor: "missing", target: { kind: "ratio-at-least", value: 0.9 } }),
      throughput("paired", "layer", 880, {
        floor: { transport: "raw", value: 1000 },
        target: { kind: "ratio-at-least", value: 0.9 }
      })
    ])
    expect(results.map((r) => [r.ratio, r.pass])).toEqual([
      [undefined, undefined],
      [0.95, true],
      [0.5, false],
      [undefined, undefined],
      [0.88, false]
    ])
    expect(Report.table(results, [])).toContain("(not run)")
  })

  it("a --quick table says its rows are indicative and marks none as FAIL; a full one keeps pass/FAIL", () => {
    const results = Report.rows([
      throughput("floor", "raw", 1000),
      throughput("fast", "layer", 950, { floor: "floor", target: { kind: "ratio-at-least", value: 0.9 } }),
      throughput("slow", "layer", 500, { floor: "floor", target: { kind: "ratio-at-least", value: 0.9 } })
    ])
    const quick = Report.table(results, [], { quick: true })
    expect(quick.split("\n")[0]).toBe(Report.QUICK_NOTE)
    expect(quick).toContain("indicative only")
    expect(quick).not.toContain("FAIL")
    expect(quick).not.toMatch(/\bpass\b/)
    expect(quick).toMatch(/^fast .* met$/m)
    expect(quick).toMatch(/^slow .* below$/m)
    const full = Report.table(results, [])
    expect(full).not.toContain("indicative")
    expect(full).toMatch(/^fast .* pass$/m)
    expect(full).toMatch(/^slow .* FAIL$/m)
  })

  it("checks a latency target against the floor it names, and the ratio against the row's own floor", () => {
    const results = Report.rows([
      ...latency("floor-zmq", "zeromq", { p50: 0.05, p99: 0.2, p999: 1, max: 3 }),
      ...latency("floor-amqp", "amqplib", { p50: 0.2, p99: 0.9, p999: 2, max: 5 }),
      ...latency("zmq-layer", "layer", { p50: 0.1, p99: 1.5, p999: 3, max: 6 }, {
        floor: "floor-zmq",
        target: { floor: "floor-amqp", slackMs: 1 }
      }),
      ...latency("slow-layer", "layer", { p50: 0.1, p99: 2.5, p999: 3, max: 6 }, {
        floor: "floor-zmq",
        target: { floor: "floor-amqp", slackMs: 1 }
      })
    ])
    const p99 = (scenario: string) => results.find((r) => r.scenario === scenario && r.metric === "p99 ms")!
    expect(p99("zmq-layer")).toMatchObject({ floorValue: 0.2, ratio: 7.5, pass: true, targetText: "<= floor-amqp + 1" })
    expect(p99("slow-layer").pass).toBe(false)
  })

  it("compares a second latency mode with a run of its own, percentile by percentile", () => {
    const python = { p50: 0.3, p99: 0.5, p999: 2, max: 4 }
    const results = Report.rows([
      ...latency("layer", "layer", { p50: 0.2, p99: 0.4, p999: 1, max: 8 }, {
        suffix: ", fiber/send",
        paired: { transport: "python", summary: python, slackMs: 0 }
      }),
      ...latency("slower", "layer", { p50: 0.2, p99: 0.6, p999: 1, max: 8 }, {
        paired: { transport: "python", summary: python, slackMs: 0 }
      })
    ])
    const row = (scenario: string, metric: string) =>
      results.find((r) => r.scenario === scenario && r.metric === metric)!
    expect(row("layer", "p99 ms, fiber/send")).toMatchObject({ floorValue: 0.5, ratio: 0.8, pass: true })
    expect(row("layer", "p99.9 ms, fiber/send")).toMatchObject({ floorValue: 2, ratio: 0.5 })
    expect(row("layer", "max ms, fiber/send").pass).toBeUndefined()
    expect(row("slower", "p99 ms").pass).toBe(false)
  })
})

describe("Summary.markdown", () => {
  const run = (value: number): Report.Report => ({
    date: "2026-11-23T00:00:00.000Z",
    machine: Report.machine(),
    loadAverage: { start: [0, 0, 0], end: [0, 0, 0] },
    config,
    scenarios: [],
    results: Report.rows([
      throughput("p2p", "layer", value, {
        floor: { transport: "raw", value: 1000 },
        target: { kind: "ratio-at-least", value: 0.9 }
      })
    ])
  })

  it("shows the first run with ranges over every run, and counts the targets met", () => {
    const runs = [run(950), run(850), run(1_100)]
    const table = Summary.markdown(runs[0], runs)
    expect(table).toContain(
      "| p2p | layer | msg/s | 950 | 1,000 | 0.95 | ≥ 0.9 x floor | pass | 850 – 1,100 | 0.85 – 1.10 |"
    )
    expect(Summary.targetsMet(runs)).toEqual(["p2p msg/s: met in 2 of 3 runs"])
  })
})
