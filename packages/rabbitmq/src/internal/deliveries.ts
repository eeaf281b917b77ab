/**
 * What comes from the broker: deliveries from the instance's queue into core's local queues
 * (acknowledged once every local receiver took them, or they expired), the redeliveries after a
 * reconnect of what is already here (dropped), membership markers (applied), bodies that are not
 * messages of this layer (acknowledged, dropped, counted and logged: the consumer never stops),
 * and returned messages (counted and logged).
 */
import { type Backend, Codec, Metrics, Warnings } from "@channel-layer/core"
import type { ConsumeMessage } from "amqplib"
import { Either, LogLevel } from "effect"
import * as RabbitMQMetrics from "../RabbitMQMetrics.js"
import type { Acker } from "./acker.js"
import { hex } from "./bytes.js"
import type { Markers } from "./markers.js"
import { Redeliveries } from "./redeliveries.js"
import type { Handlers } from "./session.js"

const skipped: Warnings.Kind = {
  key: "skipped",
  render: (total, top) => `skipped ${total} message(s) that this layer cannot deliver: ${top}`
}

const returnedDirect: Warnings.Kind = {
  key: "returned-direct",
  render: (total, top) =>
    `${total} direct send(s) returned by the broker: no queue has the channel's name (the layer instance that ` +
    `owned it is gone); each failed with ChannelNotFound: ${top}`
}

const returnedGroup: Warnings.Kind = {
  key: "returned-group",
  level: LogLevel.Debug,
  render: (total, top) => `${total} group send(s) reached no queue: the group had no member on any instance: ${top}`
}

/** The handlers a session calls, over core's local queues. */
export const handlers = (
  context: Backend.Context,
  options: { readonly expiry: number; readonly localExpiry: number; readonly markers: Markers }
): Handlers => {
  const { labels, queues, warnings } = context
  const { localExpiry, markers } = options
  /** What lost connections left unsettled, to recognise the redeliveries of what is here. */
  const redeliveries = new Redeliveries(options.expiry)

  const skip = (queue: string, reason: string, body: Uint8Array) => {
    RabbitMQMetrics.skippedMessages.unsafeUpdate(1, labels)
    warnings.report(skipped, `in ${queue}: ${reason} (body ${hex(body)})`)
  }

  /** Hands one delivery over; never throws (amqplib calls it). */
  const onDelivery = (acker: Acker, delivery: ConsumeMessage, queue: string): void => {
    const tag = delivery.fields.deliveryTag
    // The Buffer itself: the decoder reads strings straight from it and copies bin values into
    // plain Uint8Arrays of their own.
    const bytes = delivery.content
    acker.delivered(tag, bytes)
    const ack = () => acker.ack(tag)
    if (delivery.fields.redelivered) {
      if (redeliveries.alreadyHave(bytes, queues.now())) {
        RabbitMQMetrics.redeliveriesDropped.unsafeUpdate(1, labels)
        return ack()
      }
    } else if (redeliveries.expecting) {
      redeliveries.clear()
    }
    try {
      const decoded = Codec.decode(bytes)
      if (Either.isLeft(decoded)) {
        skip(queue, decoded.left.reason, bytes)
        return ack()
      }
      const { channel, group, message } = decoded.right
      const expiresAt = queues.now() + localExpiry
      if (channel === undefined) {
        queues.unsafeDeliverGroup(group, message, expiresAt, ack)
        return
      }
      if (markers.isMarker(queue, channel, message)) {
        markers.arrived(channel)
        return ack()
      }
      if (channel.length <= queue.length || channel.charCodeAt(queue.length) !== 33 || !channel.startsWith(queue)) {
        skip(queue, `channel ${JSON.stringify(channel)} is not a channel of this queue`, bytes)
        return ack()
      }
      queues.unsafeDeliverDirect(channel, message, expiresAt, "drop", ack)
    } catch (error) {
      skip(queue, `delivery failed: ${String(error)}`, bytes)
      ack()
    }
  }

  return {
    groups: context.groups,
    onDelivery,
    onLost: (unsettled) => {
      redeliveries.add(unsettled, queues.now())
      markers.applyAll()
    },
    onReturned: (message) => {
      const { exchange, routingKey } = message.fields
      if (exchange !== "") {
        RabbitMQMetrics.groupSendsUnroutable.unsafeUpdate(1, labels)
        warnings.report(returnedGroup, routingKey)
        return
      }
      Metrics.messagesUnroutable.unsafeUpdate(1, labels)
      const decoded = Codec.decode(message.content)
      warnings.report(returnedDirect, Either.isRight(decoded) ? decoded.right.channel ?? routingKey : routingKey)
    }
  }
}
