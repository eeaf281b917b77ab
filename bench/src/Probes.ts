/**
 * What a transport can tell the fan-out and scale scenarios about its broker, beyond the
 * `ChannelLayer` service: how many broker publishes a group send cost, and how many broker queues
 * an instance's channels use. Only the RabbitMQ transport has them (see `Broker.ts`); the others
 * have no broker queue to count.
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import type { BenchMessage } from "./Message.js"

/**
 * What reached the broker while `sends` group sends ran.
 * @since 0.1.0
 * @category models
 */
export interface GroupPublishes {
  readonly groupSends: number
  /** Bytes the broker received on the sender's connection meanwhile (`rabbitmqctl`). */
  readonly brokerBytes: number
  /** Bytes of one publish of this group's body. */
  readonly bytesPerPublish: number
  /** `brokerBytes / bytesPerPublish / groupSends`: broker publishes per group send. */
  readonly brokerPublishesPerSend: number
  /** `basic.publish` frames the sender's amqplib connection wrote meanwhile. */
  readonly clientPublishes: number
  /** Messages the broker routed to an observer queue bound to the same group. */
  readonly observerRouted: number
}

/**
 * The broker queues behind a set of channels.
 * @since 0.1.0
 * @category models
 */
export interface BrokerQueues {
  /** Distinct queues the channel names route to. */
  readonly queues: number
  /** How many of them the broker lists (`rabbitmqctl list_queues`). */
  readonly listedByBroker: number
  /** Their bindings on the groups exchange (one per group with local members). */
  readonly groupBindings: number
  readonly names: ReadonlyArray<string>
}

/**
 * The probes of one pair of instances.
 * @since 0.1.0
 * @category models
 */
export interface Probes {
  /**
   * Runs `effect`, which makes `sends` group sends of `message` to `group` from the sender, and
   * counts what reached the broker.
   */
  readonly groupPublishes?: <A, E>(
    group: string,
    message: BenchMessage,
    sends: number,
    effect: Effect.Effect<A, E>
  ) => Effect.Effect<{ readonly result: A; readonly publishes: GroupPublishes }, unknown, Scope.Scope>
  /** The broker queues the receiver's channels use. */
  readonly brokerQueues?: (channels: ReadonlyArray<string>) => Effect.Effect<BrokerQueues, unknown>
}
