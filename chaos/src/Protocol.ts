/**
 * How the orchestrator and its producer and consumer processes talk: the configuration a worker
 * gets on its command line (one JSON argument), and the messages both ways over Node's IPC
 * channel. The records themselves go to files (see Records.ts), not over IPC: a process killed
 * with SIGKILL loses what it had not yet sent on the channel.
 */
import { Schema } from "effect"

/** Which layer a worker builds, with the addresses the orchestrator chose for it. */
export const TransportSpec = Schema.Union(
  Schema.TaggedStruct("RabbitMQ", {
    url: Schema.String,
    expiryMillis: Schema.Number,
    queueType: Schema.Literal("classic", "quorum")
  }),
  Schema.TaggedStruct("ZeroMQDedicated", {
    pushAddress: Schema.String,
    subscribeAddress: Schema.String,
    expiryMillis: Schema.Number
  }),
  Schema.TaggedStruct("ZeroMQEmbedded", {
    publishAddress: Schema.String,
    subscribeAddresses: Schema.Array(Schema.String),
    expiryMillis: Schema.Number
  })
)
export type TransportSpec = typeof TransportSpec.Type

/** How hard the producer pushes. */
export const Load = Schema.Struct({
  /** Sends started per second (direct and group together). */
  ratePerSecond: Schema.Number,
  /** Sends in flight at most; the stream slows down when they are all waiting (a broker down). */
  inFlight: Schema.Number,
  /** One send in `groupEvery` is a group send, the others direct sends. */
  groupEvery: Schema.Number
})
export type Load = typeof Load.Type

export const WorkerConfig = Schema.Struct({
  /** The sender id of a producer (`producer-1`, `producer-2` for its replacement...), or `consumer`. */
  name: Schema.String,
  transport: TransportSpec,
  recordFile: Schema.String,
  load: Load
})
export type WorkerConfig = typeof WorkerConfig.Type

/** Orchestrator to worker. */
export const ToWorker = Schema.Union(
  /** Producer: start sending to this channel and group. */
  Schema.TaggedStruct("Go", { channel: Schema.String, group: Schema.String }),
  /** Producer: stop starting sends, wait for those in flight, then answer with `Report`. */
  Schema.TaggedStruct("Stop", {}),
  /** Either: answer with `Report` now. */
  Schema.TaggedStruct("Inquire", {})
)
export type ToWorker = typeof ToWorker.Type

/** Worker to orchestrator. */
export const FromWorker = Schema.Union(
  /** The layer is built and connected; the consumer says where it receives. */
  Schema.TaggedStruct("Ready", {
    channel: Schema.optional(Schema.String),
    group: Schema.optional(Schema.String),
    rss: Schema.Number
  }),
  Schema.TaggedStruct("Report", {
    rss: Schema.Number,
    /** `channel_layer_messages_unroutable` as this process's layer counted it. */
    unroutable: Schema.Number,
    /**
     * `channel_layer_messages_rejected_full`: sends that failed with `ChannelFull`, and group sends
     * a full member queue refused (the group send succeeds; that member misses it, logged).
     */
    rejectedFull: Schema.Number
  })
)
export type FromWorker = typeof FromWorker.Type
