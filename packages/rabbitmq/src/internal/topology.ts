/**
 * What the layer declares on the broker: the groups exchange and the instance's queue, whose name
 * is chosen once (retried while it is taken) and kept across reconnects, since the channel names
 * handed out embed it.
 */
import { ChannelName } from "@channel-layer/core"
import type { Channel, Options as AmqpOptions } from "amqplib"
import { describeError } from "./endpoints.js"
import { exchangeRefused, queueRefused } from "./errors.js"
import type { Resolved } from "./options.js"

/** A fresh queue name the way the Python layer makes them. */
export const randomQueueName = (): string => `channels_${ChannelName.randomLetters(12)}`

/**
 * How the layer's queue is declared: the Python layer's arguments (capacity, overflow, message
 * TTL) and what keeps it across reconnects (not exclusive, `x-expires`, a single active consumer).
 * A quorum queue is durable by nature; a classic one is not, and goes with its node.
 */
export const queueOptions = (options: Resolved): AmqpOptions.AssertQueue => ({
  exclusive: false,
  durable: options.queueType === "quorum",
  autoDelete: false,
  arguments: {
    ...(options.queueType === "quorum" ? { "x-queue-type": "quorum" } : {}),
    "x-max-length": options.remoteCapacity,
    "x-overflow": "reject-publish",
    "x-message-ttl": Math.trunc(options.expiry),
    "x-expires": options.queueExpiry,
    "x-single-active-consumer": true
  }
})

/** Declares the groups exchange as the Python layer does: direct, not durable, not auto-delete. */
export const declareExchange = (channel: Channel, exchange: string): Promise<unknown> =>
  channel.assertExchange(exchange, "direct", { durable: false, autoDelete: false }).catch(
    (error) => Promise.reject(exchangeRefused(exchange, error))
  )

const NAME_ATTEMPTS = 5

/** A declare refused because the name is taken: locked by another connection, or other arguments. */
const isNameConflict = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code
  return code === 405 || code === 406
}

/** The instance's queue name: tried afresh while taken at the first declare, then final. */
export class QueueName {
  private name: string
  private final = false

  constructor(private readonly next: () => string = randomQueueName) {
    this.name = next()
  }

  get current(): string {
    return this.name
  }

  /**
   * Declares the queue. A refusal is taken as the name being taken (another connection holds an
   * exclusive queue of that name, or one with other arguments) only before the name is final:
   * then another name is tried, on a fresh channel (`reopen`: the refusal closed this one).
   * Resolves with the channel the declare succeeded on.
   */
  async declare(
    first: Channel,
    options: Resolved,
    reopen: () => Promise<Channel>,
    log: (line: string) => void
  ): Promise<Channel> {
    let channel = first
    for (let attempt = 1;; attempt++) {
      try {
        await channel.assertQueue(this.name, queueOptions(options))
        this.final = true
        return channel
      } catch (error) {
        if (this.final || attempt >= NAME_ATTEMPTS || !isNameConflict(error)) throw queueRefused(this.name, error)
        const taken = this.name
        this.name = this.next()
        log(`queue name ${taken} is taken (${describeError(error)}); trying ${this.name} instead`)
        channel = await reopen()
      }
    }
  }
}
