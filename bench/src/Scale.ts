/**
 * Scale and memory: 10,000 channels in 1,000 groups (10 members each) on one instance, each
 * channel with its own receiving fiber (a server with a receive loop per websocket connection).
 *
 * Measures, in this process (sender instance included, small next to the receiver), after GC:
 * - the heap the channels and their group memberships add (no receiver waiting yet: the
 *   in-memory and ZeroMQ layers keep no state for an idle channel, only the memberships);
 * - the heap the 10,000 receiving fibers add (the fibers themselves, and each channel's
 *   pending receive), and the resident memory everything adds;
 * - for RabbitMQ, the broker queues behind the 10,000 channels (target: 1) and their group
 *   bindings, as `rabbitmqctl` lists them;
 * - the heap after GC before and after 1,000,000 deliveries (half direct sends spread over every
 *   channel, half group sends spread over every group, 100 sends in flight and at most
 *   {@link OUTSTANDING} deliveries outstanding), which must not grow beyond noise: at most
 *   {@link GROWTH_LIMIT_MIB} MiB.
 *
 * `--quick` moves 20,000 deliveries instead.
 * @since 0.1.0
 */
import { Effect, Fiber } from "effect"
import { performance } from "node:perf_hooks"
import type { ChannelLayerService } from "./ChannelLayerAdapter.js"
import { sendRetryingFull } from "./ChannelLayerAdapter.js"
import * as Memory from "./Memory.js"
import { type BenchMessage, makeMessages } from "./Message.js"
import type { BrokerQueues } from "./Probes.js"
import type { Measurement, Scenario, ScenarioContext } from "./Scenario.js"
import { rate } from "./Stats.js"
import type { Definition } from "./Transports.js"

/**
 * Channels on the instance.
 * @since 0.1.0
 * @category constants
 */
export const CHANNELS = 10_000

/**
 * Groups; channel `i` is in group `i % GROUPS`.
 * @since 0.1.0
 * @category constants
 */
export const GROUPS = 1_000

/**
 * Deliveries between the two heap readings (quick: 20,000).
 * @since 0.1.0
 * @category constants
 */
export const DELIVERIES = 1_000_000

/**
 * Heap growth (MiB, after GC) that still counts as noise.
 * @since 0.1.0
 * @category constants
 */
export const GROWTH_LIMIT_MIB = 1

/**
 * The broker queue's capacity (RabbitMQ's `remoteCapacity`, default 100), raised to
 * {@link OUTSTANDING} so that the queue never refuses a message: a group send the broker refuses
 * is dropped (as designed), and this scenario is about memory, not overflow.
 * @since 0.1.0
 * @category constants
 */
export const QUEUE_CAPACITY = 1_000

/**
 * Deliveries sent and not yet received, at most, so no queue ever holds more than this (an application
 * without such flow control overflows some queue once its senders outrun its receivers, and this
 * scenario is about memory, not overflow).
 * @since 0.1.0
 * @category constants
 */
export const OUTSTANDING = 1_000

/** Sends in flight. */
const WINDOW = 100
const MEMBERS = CHANNELS / GROUPS
/** Every 11 operations: 10 direct sends (10 deliveries) and 1 group send (10 deliveries). */
const CYCLE = 11
const STALL_MS = 5_000

const groupName = (i: number) => `bench-scale.${i}`

/**
 * Deliveries sent (counted when the send starts) and received so far. Senders wait on `room`
 * while {@link OUTSTANDING} deliveries are outstanding; receivers open it again once half of them
 * arrived (one wake-up per 500 deliveries, not one per delivery).
 */
interface Counter {
  sent: number
  delivered: number
  readonly room: Effect.Latch
}

const received = (counter: Counter) =>
  Effect.sync(() => {
    counter.delivered++
    if (counter.sent - counter.delivered <= OUTSTANDING / 2) counter.room.unsafeOpen()
  })

const waitForRoom = (counter: Counter): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (counter.sent - counter.delivered < OUTSTANDING) return Effect.void
    counter.room.unsafeClose()
    return Effect.zipRight(counter.room.await, waitForRoom(counter))
  })

interface Traffic {
  readonly elapsedMs: number
  readonly delivered: number
  readonly channelFullRetries: number
}

/**
 * Moves about `deliveries` deliveries into the channels: direct sends round robin over the
 * channels and group sends round robin over the groups, half of the deliveries each.
 */
const traffic = (
  sender: ChannelLayerService,
  channels: ReadonlyArray<string>,
  counter: Counter,
  deliveries: number,
  context: ScenarioContext
): Effect.Effect<Traffic, unknown> =>
  Effect.gen(function*() {
    const operations = Math.ceil(deliveries / (2 * MEMBERS)) * CYCLE
    const expected = (operations / CYCLE) * 2 * MEMBERS
    const messages = makeMessages(1_000)
    const gate = yield* Effect.makeSemaphore(1)
    let channelFullRetries = 0
    let direct = 0
    let group = 0
    const countRetry = () => {
      channelFullRetries++
    }
    const send = (channel: string, message: BenchMessage) =>
      sendRetryingFull((m) => sender.send(channel, m), gate, countRetry)(message)
    const startCount = counter.delivered
    let next = 0
    const worker = Effect.whileLoop({
      while: () => next < operations,
      body: () => {
        const k = next++
        const message = messages[k % messages.length]
        if (k % 10 === 0) context.progress(counter.delivered - startCount, expected)
        return Effect.zipRight(
          waitForRoom(counter),
          Effect.suspend(() => {
            if (k % CYCLE === CYCLE - 1) {
              counter.sent += MEMBERS
              return sender.groupSend(groupName(group++ % GROUPS), message)
            }
            counter.sent++
            return send(channels[direct++ % channels.length], message)
          })
        )
      },
      step: () => {}
    })
    const start = performance.now()
    yield* Effect.all(Array.from({ length: WINDOW }, () => worker), { concurrency: "unbounded", discard: true })
    let seen = -1
    while (counter.delivered - startCount < expected && seen !== counter.delivered) {
      seen = counter.delivered
      const deadline = performance.now() + STALL_MS
      while (counter.delivered === seen && counter.delivered - startCount < expected && performance.now() < deadline) {
        yield* Effect.sleep("10 millis")
      }
    }
    return {
      elapsedMs: performance.now() - start,
      delivered: counter.delivered - startCount,
      channelFullRetries
    }
  })

const row = (scenario: string, transport: string, metric: string, value: number): Measurement => ({
  scenario,
  transport,
  metric,
  value
})

/**
 * The scale and memory scenario of one transport.
 * @since 0.1.0
 * @category scenarios
 */
export const scenario = (definition: Definition): Scenario => {
  const name = `scale-${definition.transport}`
  const { transport } = definition
  return {
    name,
    description: `${transport}: ${CHANNELS} channels in ${GROUPS} groups on one instance, memory over 1M deliveries`,
    run: (context) =>
      Effect.gen(function*() {
        const deliveries = context.config.quick ? 20_000 : DELIVERIES
        context.phase("baseline")
        const baseline = yield* Memory.afterGc
        const { probes, receiver, sender } = yield* definition.instances({ queueCapacity: QUEUE_CAPACITY })
        const started = performance.now()
        context.phase("channels")
        const channels = yield* Effect.forEach(
          Array.from({ length: CHANNELS }),
          () => receiver.newChannel("bench"),
          { concurrency: 100 }
        )
        context.phase("groups")
        let joined = 0
        yield* Effect.forEach(channels, (channel, i) =>
          Effect.tap(receiver.groupAdd(groupName(i % GROUPS), channel), () =>
            context.progress(++joined, CHANNELS)), {
          concurrency: 100,
          discard: true
        })
        const setupMs = performance.now() - started
        const joinedMemory = yield* Memory.afterGc
        const counter: Counter = { sent: 0, delivered: 0, room: yield* Effect.makeLatch(true) }
        const receivers = yield* Effect.forEach(channels, (channel) =>
          Effect.fork(Effect.forever(Effect.zipRight(receiver.receive(channel), received(counter)))))
        const queues: BrokerQueues | undefined = probes?.brokerQueues ? yield* probes.brokerQueues(channels) : undefined
        context.phase("warm-up")
        const warmup = yield* traffic(sender, channels, counter, Math.min(deliveries, 100_000), context)
        const setup = yield* Memory.afterGc
        context.phase(`${deliveries.toLocaleString("en-US")} deliveries`)
        const run = yield* traffic(sender, channels, counter, deliveries, context)
        const after = yield* Memory.afterGc
        yield* Fiber.interruptAll(receivers)
        const growth = Memory.mib(after.heapUsed - setup.heapUsed)
        const measurements: Array<Measurement> = [
          row(name, transport, "heap MiB, channels+groups", Memory.mib(joinedMemory.heapUsed - baseline.heapUsed)),
          row(name, transport, "heap MiB, +receivers", Memory.mib(setup.heapUsed - joinedMemory.heapUsed)),
          row(name, transport, "rss MiB, all", Memory.mib(setup.rss - baseline.rss)),
          {
            ...row(
              name,
              transport,
              `heap growth MiB/${deliveries >= 1e6 ? `${deliveries / 1e6}M` : deliveries}`,
              growth
            ),
            target: { kind: "at-most", value: GROWTH_LIMIT_MIB }
          },
          row(name, transport, "deliveries/s", rate(run.delivered, run.elapsedMs))
        ]
        if (run.delivered < deliveries) {
          measurements.push({
            ...row(name, transport, "lost deliveries", deliveries - run.delivered),
            target: { kind: "equals", value: 0 }
          })
        }
        if (queues !== undefined) {
          measurements.push({
            // The queues the channels route to that the broker holds (a name it does not list is not counted).
            ...row(name, transport, "broker queues", queues.listedByBroker),
            target: { kind: "equals", value: 1 }
          })
        }
        const asMib = (s: Memory.Snapshot) => ({
          rss: Memory.mib(s.rss),
          heapUsed: Memory.mib(s.heapUsed),
          external: Memory.mib(s.external)
        })
        return {
          measurements,
          details: {
            channels: CHANNELS,
            groups: GROUPS,
            deliveries,
            setupMs,
            memoryMiB: {
              baseline: asMib(baseline),
              joined: asMib(joinedMemory),
              setup: asMib(setup),
              after: asMib(after)
            },
            queueCapacity: QUEUE_CAPACITY,
            outstanding: OUTSTANDING,
            warmup,
            run,
            ...(queues !== undefined ? { queues: { ...queues, names: queues.names.slice(0, 5) } } : {})
          }
        }
      })
  }
}
