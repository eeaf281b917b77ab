/**
 * The transports measured next to the floors, and every scenario they take part in:
 * `p2p-<transport>-w1`, `p2p-<transport>-w100`, `latency-<transport>` (see `Transport.scenarios`),
 * `fanout-<transport>` (see `FanOut`) and `scale-<transport>` (see `Scale`).
 *
 * - `in-memory`: one `InMemory` instance is both sender and receiver (it cannot reach another).
 * - `rabbitmq`: two `RabbitMQ` instances, each with its own connection and queue, default options.
 * - `rabbitmq-quorum`: the same with `queueType: "quorum"` (point to point and latency only):
 *   what replicated queues cost, on the single node of the run.
 * - `zeromq-embedded`: the sender binds its PUB socket on a free loopback port, the receiver
 *   connects its SUB socket to it.
 * - `zeromq-dedicated`: both push to, and subscribe at, one `channel-layer-zmq-proxy` child
 *   process started once per run (see `ZmqProxy`).
 * @since 0.1.0
 */
import { Codec, InMemory, Message } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { Redis } from "@channel-layer/redis"
import { ZeroMQ } from "@channel-layer/zeromq"
import { Effect, Either } from "effect"
import type { Scope } from "effect"
import * as Broker from "./Broker.js"
import * as ChannelLayerAdapter from "./ChannelLayerAdapter.js"
import * as FanOut from "./FanOut.js"
import * as EffectQueue from "./floors/EffectQueue.js"
import * as RawAmqp from "./floors/RawAmqp.js"
import * as RawRedis from "./floors/RawRedis.js"
import * as RawZeroMQ from "./floors/RawZeroMQ.js"
import type { Probes } from "./Probes.js"
import * as PythonPeer from "./PythonPeer.js"
import * as Scale from "./Scale.js"
import type { BenchConfig, Scenario } from "./Scenario.js"
import * as Transport from "./Transport.js"
import type { Peer, PointToPointAdapter, PointToPointFloors } from "./Transport.js"
import type * as ZmqProxy from "./ZmqProxy.js"

/**
 * Options a scenario may ask of the instances it gets.
 * @since 0.1.0
 * @category models
 */
export interface InstanceOptions {
  /**
   * Messages each local channel buffers, where the transport has such a capacity (in-memory,
   * ZeroMQ). The fan-out raises it so that a burst of group sends is not dropped for members that
   * have not had their turn to receive yet; RabbitMQ bounds local buffering by its prefetch.
   */
  readonly capacity?: number
  /**
   * Messages the broker queue of an instance holds before the broker refuses more (RabbitMQ's
   * `remoteCapacity`, default 100). A group send the broker refuses is dropped.
   */
  readonly queueCapacity?: number
}

/**
 * One transport under test.
 * @since 0.1.0
 * @category models
 */
export interface Definition {
  readonly transport: string
  /** Builds a sender and a receiver instance in the current scope. */
  readonly instances: (options?: InstanceOptions) => Effect.Effect<ChannelLayerAdapter.Instances, unknown, Scope.Scope>
  readonly floors: PointToPointFloors
  /** Options of the point-to-point and latency instances (default: the transport's defaults). */
  readonly pointToPoint?: InstanceOptions
  /** Point to point: minimum throughput as a ratio of the floor (none when absent). */
  readonly targetRatio?: number
  /** Latency: how far above the target floor's p99 the transport's may be (default 1 ms). */
  readonly latencySlackMs?: number
  readonly rounds?: number
  readonly warmupRounds?: number
  /** Takes part in the point-to-point and latency scenarios only. */
  readonly pointToPointOnly?: boolean
  /** Takes no part in the scale scenario (1,000,000 deliveries). */
  readonly noScale?: boolean
}

/**
 * Resources shared by the scenarios of one run.
 * @since 0.1.0
 * @category models
 */
export interface Shared {
  /** The ZeroMQ proxy, started on first use and stopped at the end of the run. */
  readonly proxy: Effect.Effect<ZmqProxy.Proxy, Error>
}

const GROUPS_EXCHANGE = "groups"

const capacityOption = (options: InstanceOptions | undefined) =>
  options?.capacity !== undefined ? { capacity: options.capacity } : {}

/** The probes of a pair of RabbitMQ instances: what the broker says (see `Broker`). */
const rabbitProbes = (url: string, sender: RabbitMQ.RabbitMQServices): Probes => {
  const vhost = Broker.vhostOf(url)
  return {
    groupPublishes: (group, message, sends, effect) =>
      Effect.gen(function*() {
        const queue = yield* sender.connection.queue
        const model = yield* sender.connection.connection
        const copy = Message.copy(message)
        if (Either.isLeft(copy)) return yield* Effect.fail(copy.left)
        const bodyBytes = Codec.encode(copy.right, { group }).byteLength
        const observer = yield* Broker.observeGroup(url, GROUPS_EXCHANGE, group)
        const name = `channel-layer ${queue}`
        const before = yield* Broker.receivedBytes(vhost, name)
        const publishes = yield* Broker.countPublishes(model)
        const result = yield* effect
        const clientPublishes = publishes.count()
        // The observer consumes on its own connection: give it a moment to see every message.
        for (let i = 0; i < 50 && observer.count() < sends; i++) yield* Effect.sleep("20 millis")
        const after = yield* Broker.receivedBytes(vhost, name)
        const bytesPerPublish = Broker.publishBytes(GROUPS_EXCHANGE, group, bodyBytes)
        return {
          result,
          publishes: {
            groupSends: sends,
            brokerBytes: after - before,
            bytesPerPublish,
            brokerPublishesPerSend: (after - before) / bytesPerPublish / sends,
            clientPublishes,
            observerRouted: observer.count()
          }
        }
      }),
    brokerQueues: (channels) =>
      Effect.gen(function*() {
        const names = [...new Set(channels.map((channel) => channel.slice(0, channel.indexOf("!"))))]
        const listed = yield* Broker.queuesNamed(vhost, new Set(names))
        let groupBindings = 0
        for (const name of names) groupBindings += yield* Broker.bindingsTo(vhost, GROUPS_EXCHANGE, name)
        return { queues: names.length, listedByBroker: listed.length, groupBindings, names }
      })
  }
}

/**
 * ZeroMQ has no back-pressure from a receiving process to a sending one: a message for a local
 * channel that holds `capacity` messages is dropped by the receiver (see the ZeroMQ README's back-pressure section). A sender that
 * outruns its receiver, as the point-to-point runs do on purpose, would lose messages at the
 * default of 100, so these runs raise it as the raw zeromq floor raises its high-water marks.
 */
const zeromqPointToPoint = (config: BenchConfig): InstanceOptions => ({
  capacity: Math.max(100_000, 2 * (config.count + config.warmup))
})

/**
 * What a ZeroMQ mode is compared with, and how it runs point to point. The embedded mode's latency
 * is read next to raw PUB/SUB and held to RabbitMQ's raw p99 plus 1 ms; the dedicated mode's, whose
 * messages cross a proxy process, next to raw zeromq through a plain forwarder process, within
 * 0.5 ms of its p99.
 */
const zeromqComparison = (config: BenchConfig, mode: "embedded" | "dedicated") => ({
  floors: {
    throughput: RawZeroMQ.floor,
    ...(mode === "embedded"
      ? { latency: RawZeroMQ.names.latency, latencyTarget: RawAmqp.names.latency }
      : { latency: RawZeroMQ.names.forwardedLatency, latencyTarget: RawZeroMQ.names.forwardedLatency })
  },
  ...(mode === "dedicated" ? { latencySlackMs: 0.5 } : {}),
  pointToPoint: zeromqPointToPoint(config),
  targetRatio: 0.8,
  rounds: RawZeroMQ.rounds
})

/** Django's channels_rabbitmq, when a Python here can import it. */
const pythonRabbitmq: Peer = {
  label: PythonPeer.layers.rabbitmq.label,
  open: (config) => PythonPeer.open("rabbitmq", config.amqpUrl)
}

/** Two RabbitMQ instances with queues of `queueType`, compared with raw amqplib. */
const rabbitmq = (config: BenchConfig, queueType: "classic" | "quorum"): Definition => ({
  transport: queueType === "classic" ? "rabbitmq" : "rabbitmq-quorum",
  instances: (options) =>
    Effect.gen(function*() {
      const rabbitOptions: RabbitMQ.RabbitMQOptions = {
        url: config.amqpUrl,
        queueType,
        ...(options?.queueCapacity !== undefined ? { remoteCapacity: options.queueCapacity } : {})
      }
      const sender = yield* RabbitMQ.make(rabbitOptions)
      const receiver = yield* RabbitMQ.make(rabbitOptions)
      return {
        sender: sender.channelLayer,
        receiver: receiver.channelLayer,
        probes: rabbitProbes(config.amqpUrl, sender)
      }
    }),
  floors: {
    throughput: RawAmqp.floor,
    latency: RawAmqp.names.latency,
    // The Python layer declares classic queues: it is compared with the classic rows only.
    ...(queueType === "classic" ? { latencyTarget: RawAmqp.names.latency, peer: pythonRabbitmq } : {})
  },
  // A quorum queue writes every message to disk before confirming it: measured, not targeted.
  ...(queueType === "classic" ? { targetRatio: 0.9 } : {}),
  // A quorum round at window 1 takes 20 s or more (about 1,000 msg/s): three rounds, not five, keep
  // the scenario within its time limit on a busy machine.
  rounds: queueType === "classic" ? RawAmqp.rounds : 3
})

/** Django's channels_redis, when a Python here can import it. */
const pythonRedis: Peer = {
  label: PythonPeer.layers.redis.label,
  open: () => PythonPeer.open("redis", RawRedis.url)
}

/**
 * Two Redis instances on `$REDIS_URL` (the local server by default), with a key prefix of this
 * run's own, compared with the raw client and channels_redis.
 */
const redis: Definition = {
  transport: "redis",
  instances: (options) =>
    Effect.gen(function*() {
      const redisOptions: Redis.RedisOptions = {
        hosts: RawRedis.url,
        prefix: `bench-${Math.random().toString(36).slice(2, 10)}`,
        ...(options?.capacity !== undefined ? { capacity: options.capacity } : {})
      }
      const sender = yield* Redis.make(redisOptions)
      const receiver = yield* Redis.make(redisOptions)
      return { sender: sender.channelLayer, receiver: receiver.channelLayer }
    }),
  floors: {
    throughput: RawRedis.floor,
    latency: RawRedis.names.latency,
    latencyTarget: RawAmqp.names.latency,
    peer: pythonRedis
  },
  targetRatio: 0.9,
  rounds: RawAmqp.rounds,
  // A million deliveries through Redis's sorted sets take minutes here: the memory rows are the
  // broker transports' own, measured on RabbitMQ and ZeroMQ.
  noScale: true
}

/**
 * The transports of this run (the config carries the broker URL).
 * @since 0.1.0
 * @category transports
 */
export const definitions = (config: BenchConfig, shared: Shared): ReadonlyArray<Definition> => [
  {
    transport: "in-memory",
    instances: (options) =>
      Effect.map(InMemory.make(capacityOption(options)), (layer) => ({ sender: layer, receiver: layer })),
    floors: { throughput: EffectQueue.floor, latencyTarget: RawAmqp.names.latency },
    targetRatio: 0.5,
    rounds: EffectQueue.rounds,
    warmupRounds: EffectQueue.warmupRounds
  },
  rabbitmq(config, "classic"),
  { ...rabbitmq(config, "quorum"), pointToPointOnly: true },
  redis,
  {
    transport: "zeromq-embedded",
    instances: (options) =>
      Effect.gen(function*() {
        const sender = yield* ZeroMQ.makeEmbedded({ publishAddress: "tcp://127.0.0.1:*", ...capacityOption(options) })
        const endpoint = sender.transport.publishEndpoint
        if (endpoint === undefined) return yield* Effect.fail(new Error("the embedded sender has no PUB endpoint"))
        const receiver = yield* ZeroMQ.makeEmbedded({
          publishAddress: "tcp://127.0.0.1:*",
          subscribeAddresses: endpoint,
          ...capacityOption(options)
        })
        return { sender: sender.service, receiver: receiver.service }
      }),
    ...zeromqComparison(config, "embedded")
  },
  {
    transport: "zeromq-dedicated",
    instances: (options) =>
      Effect.gen(function*() {
        const proxy = yield* shared.proxy
        const addresses = { pushAddress: proxy.pullAddress, subscribeAddress: proxy.publishAddress }
        const sender = yield* ZeroMQ.makeDedicated({ ...addresses, ...capacityOption(options) })
        const receiver = yield* ZeroMQ.makeDedicated({ ...addresses, ...capacityOption(options) })
        return { sender: sender.service, receiver: receiver.service }
      }),
    ...zeromqComparison(config, "dedicated")
  }
]

/**
 * The point-to-point adapter of a transport.
 * @since 0.1.0
 * @category transports
 */
export const adapter = (definition: Definition): PointToPointAdapter =>
  ChannelLayerAdapter.fromInstances({
    transport: definition.transport,
    instances: definition.instances(definition.pointToPoint),
    floors: definition.floors,
    ...(definition.targetRatio !== undefined ? { targetRatio: definition.targetRatio } : {}),
    ...(definition.latencySlackMs !== undefined ? { latencySlackMs: definition.latencySlackMs } : {}),
    ...(definition.rounds !== undefined ? { rounds: definition.rounds } : {}),
    ...(definition.warmupRounds !== undefined ? { warmupRounds: definition.warmupRounds } : {})
  })

/**
 * Every transport scenario, grouped by kind: point to point (window 1 and 100) for every
 * transport, then latency, then fan-out, then scale and memory.
 * @since 0.1.0
 * @category scenarios
 */
export const scenarios = (config: BenchConfig, shared: Shared): ReadonlyArray<Scenario> => {
  const all = definitions(config, shared)
  const pointToPoint = all.map((definition) => Transport.scenarios(adapter(definition)))
  return [
    ...pointToPoint.flatMap((s) => s.slice(0, Transport.windows.length)),
    ...pointToPoint.flatMap((s) => s.slice(Transport.windows.length)),
    ...all.filter((definition) => definition.pointToPointOnly !== true).map((definition) =>
      FanOut.scenario(definition)
    ),
    ...all.filter((definition) => definition.pointToPointOnly !== true && definition.noScale !== true).map((
      definition
    ) => Scale.scenario(definition))
  ]
}
