/**
 * Group fan-out: 100 members (channels of one instance, each with its own receiving fiber) in one
 * group, 1,000 group sends from another instance with 100 in flight. Measures local deliveries
 * per second, from the first group send to the last delivery (target: 300,000), and for a
 * transport with a broker the broker publishes per group send (target: exactly 1, see `Broker`).
 *
 * The members' channels get a capacity of 1,000 where the transport has one, and the broker queue
 * (RabbitMQ's `remoteCapacity`) too, so that a burst of group sends is not dropped for a member
 * whose fiber has not had its turn yet: this measures delivery speed, not overflow. A delivery
 * that never arrives is reported as lost.
 * @since 0.1.0
 */
import { Deferred, Effect, Fiber } from "effect"
import { performance } from "node:perf_hooks"
import type { ChannelLayerService } from "./ChannelLayerAdapter.js"
import { TEXT } from "./Message.js"
import type { BenchMessage } from "./Message.js"
import type { GroupPublishes } from "./Probes.js"
import type { Measurement, Scenario, ScenarioContext } from "./Scenario.js"
import { warmupPhase } from "./Scenario.js"
import { median, rate } from "./Stats.js"
import { peerTargets, peerUnavailable } from "./Transport.js"
import type { Definition } from "./Transports.js"

/**
 * Members of the group.
 * @since 0.1.0
 * @category constants
 */
export const MEMBERS = 100

/**
 * Group sends per timed round.
 * @since 0.1.0
 * @category constants
 */
export const SENDS = 1_000

/**
 * Group sends in flight.
 * @since 0.1.0
 * @category constants
 */
export const WINDOW = 100

/**
 * Local deliveries per second the fan-out must reach (the project's target).
 * @since 0.1.0
 * @category constants
 */
export const TARGET = 300_000

/**
 * Untimed full-size rounds before the timed ones (one of 200 sends with `--quick`).
 * @since 0.1.0
 * @category constants
 */
export const WARMUP_ROUNDS = 3

/**
 * The in-memory layer's label: the other transports' fan-out is compared with its fan-out, at
 * least {@link IN_MEMORY_RATIO} of it.
 * @since 0.2.0
 * @category constants
 */
export const IN_MEMORY = "in-memory"

/**
 * Fan-out of a transport as a share of the in-memory layer's, at least.
 * @since 0.2.0
 * @category constants
 */
export const IN_MEMORY_RATIO = 0.8

/** How long without a new delivery before the missing ones count as lost. */
const STALL_MS = 2_000

const message: BenchMessage = { type: "chat.message", text: TEXT }

interface Round {
  readonly elapsedMs: number
  readonly sentMs: number
  readonly delivered: number
}

/**
 * One round: every member's fiber receives `sends` messages while the sender makes `sends`
 * group sends with {@link WINDOW} in flight.
 * @since 0.1.0
 * @category runs
 */
export const round = (
  sender: ChannelLayerService,
  receiver: ChannelLayerService,
  group: string,
  channels: ReadonlyArray<string>,
  sends: number,
  context: ScenarioContext
): Effect.Effect<Round, unknown> =>
  Effect.gen(function*() {
    const expected = sends * channels.length
    let delivered = 0
    let lastDelivery = 0
    const done = yield* Deferred.make<void>()
    const members = yield* Effect.forEach(channels, (channel) =>
      Effect.fork(Effect.gen(function*() {
        for (let i = 0; i < sends; i++) {
          yield* receiver.receive(channel)
          lastDelivery = performance.now()
          context.progress(++delivered, expected)
          if (delivered === expected) Deferred.unsafeDone(done, Effect.void)
        }
      })))
    let next = 0
    const worker = Effect.whileLoop({
      while: () => next < sends,
      body: () => {
        next++
        return sender.groupSend(group, message)
      },
      step: () => {}
    })
    const start = performance.now()
    yield* Effect.all(Array.from({ length: Math.min(WINDOW, sends) }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
    const sentMs = performance.now() - start
    // Every delivery, or none for STALL_MS: the rest are lost.
    let seen = -1
    while (delivered < expected && seen !== delivered) {
      seen = delivered
      yield* Deferred.await(done).pipe(Effect.timeout(STALL_MS), Effect.ignore)
    }
    yield* Fiber.interruptAll(members)
    return { elapsedMs: Math.max(lastDelivery - start, sentMs), sentMs, delivered }
  })

const randomSuffix = () => Math.random().toString(36).slice(2, 10)

/**
 * The fan-out scenario of one transport.
 * @since 0.1.0
 * @category scenarios
 */
export const scenario = (definition: Definition): Scenario => {
  const name = `fanout-${definition.transport}`
  return {
    name,
    description: `${definition.transport}: ${MEMBERS} members on one instance, ${SENDS} group sends from another`,
    ...(definition.transport !== IN_MEMORY ? { requires: [`fanout-${IN_MEMORY}`] } : {}),
    run: (context) =>
      Effect.gen(function*() {
        const rounds = context.config.quick ? 1 : 3
        const { probes, receiver, sender } = yield* definition.instances({ capacity: SENDS, queueCapacity: SENDS })
        const group = `bench-fanout.${randomSuffix()}`
        context.phase("joining")
        const channels = yield* Effect.forEach(Array.from({ length: MEMBERS }), () => receiver.newChannel("bench"), {
          concurrency: 10
        })
        yield* Effect.forEach(channels, (channel) => receiver.groupAdd(group, channel), {
          concurrency: 10,
          discard: true
        })
        // Untimed full-size rounds first: the first rounds run on code the JIT has not optimised
        // yet (RabbitMQ, ten rounds in a row: 211k, 335k, 372k, then 417k-480k deliveries/s), and
        // a long-running server measures at the rate it settles to, as the point-to-point runs do.
        const warmupRounds = context.config.quick ? 1 : WARMUP_ROUNDS
        for (let r = 1; r <= warmupRounds; r++) {
          context.phase(warmupPhase(r, warmupRounds))
          yield* round(sender, receiver, group, channels, context.config.quick ? Math.min(SENDS, 200) : SENDS, context)
        }
        const peerLabel = definition.floors.peer?.label
        const peer = definition.floors.peer === undefined
          ? undefined
          : yield* definition.floors.peer.open(context.config)
        // The peer's rounds interleave with ours, the first of them untimed (its warm-up).
        const peerRates: Array<number> = []
        const peerRound = peer?._tag === "Running"
          ? Effect.zipRight(
            Effect.sync(() => context.phase(`${peerLabel}, group sends`)),
            peer.peer.fanout(MEMBERS, SENDS, WINDOW)
          )
          : undefined
        const timedPeerRound = peerRound === undefined ? Effect.void : Effect.map(
          peerRound,
          ({ delivered, elapsedMs }) => {
            peerRates.push(rate(delivered, elapsedMs))
          }
        )
        if (peerRound !== undefined) yield* peerRound
        const results: Array<Round> = []
        let publishes: GroupPublishes | undefined
        for (let r = 1; r <= rounds; r++) {
          if (r % 2 === 0) yield* timedPeerRound
          context.phase(rounds === 1 ? "group sends" : `group sends, round ${r}/${rounds}`)
          const timed = round(sender, receiver, group, channels, SENDS, context)
          if (r === 1 && probes?.groupPublishes !== undefined) {
            const probed = yield* probes.groupPublishes(group, message, SENDS, timed)
            publishes = probed.publishes
            results.push(probed.result)
          } else {
            results.push(yield* timed)
          }
          if (r % 2 === 1) yield* timedPeerRound
        }
        const expected = SENDS * MEMBERS
        const rates = results.map((r) => rate(r.delivered, r.elapsedMs))
        const lost = results.reduce((sum, r) => sum + expected - r.delivered, 0)
        const measurements: Array<Measurement> = [{
          scenario: name,
          transport: definition.transport,
          metric: "deliveries/s",
          value: median(rates),
          target: { kind: "at-least", value: TARGET }
        }]
        if (definition.transport !== IN_MEMORY) {
          // One broker publish per group send: the rest is local work, as the in-memory layer's.
          measurements.push({
            scenario: name,
            transport: definition.transport,
            metric: "deliveries/s vs in-memory",
            value: median(rates),
            floor: { scenario: `fanout-${IN_MEMORY}`, metric: "deliveries/s" },
            target: { kind: "ratio-at-least", value: IN_MEMORY_RATIO }
          })
        }
        if (peerLabel !== undefined) {
          measurements.push({
            scenario: name,
            transport: definition.transport,
            metric: `deliveries/s vs ${peerLabel}`,
            value: median(rates),
            // Without the peer, a floor no scenario measures: the row says "(not run)".
            ...(peerRates.length > 0
              ? { pairedFloor: { transport: peerLabel, value: median(peerRates) } }
              : { floor: { scenario: peerLabel, metric: "deliveries/s" } }),
            target: { kind: "ratio-at-least", value: peerTargets.fanout }
          })
        }
        if (lost > 0) {
          measurements.push({
            scenario: name,
            transport: definition.transport,
            metric: "lost deliveries",
            value: lost,
            target: { kind: "equals", value: 0 }
          })
        }
        if (publishes !== undefined) {
          measurements.push({
            scenario: name,
            transport: definition.transport,
            metric: "broker publishes/group send",
            // Heartbeats add a few bytes: two decimals say whether it is one publish or more.
            value: Math.round(publishes.brokerPublishesPerSend * 100) / 100,
            target: { kind: "equals", value: 1 }
          })
        }
        return {
          measurements,
          ...(peer?._tag === "Unavailable" ? { notes: [peerUnavailable(peerLabel, peer.reason)] } : {}),
          details: {
            members: MEMBERS,
            sends: SENDS,
            window: WINDOW,
            rounds,
            warmupRounds,
            capacity: SENDS,
            queueCapacity: SENDS,
            ratesPerRound: rates,
            roundsMs: results.map((r) => r.elapsedMs),
            sendsMs: results.map((r) => r.sentMs),
            lost,
            ...(publishes !== undefined ? { publishes } : {}),
            ...(peerRates.length > 0 ? { peer: { label: peerLabel, ratesPerRound: peerRates } } : {})
          }
        }
      })
  }
}
