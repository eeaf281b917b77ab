/**
 * The channel layer a worker runs on, built from the orchestrator's description. Every option
 * not listed keeps the transport's default: the run measures the layers as they ship.
 */
import type { ChannelLayer, Errors } from "@channel-layer/core"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { ZeroMQ } from "@channel-layer/zeromq"
import type { Layer } from "effect"
import { Duration, Match } from "effect"
import type { TransportSpec } from "../Protocol.js"

export const layer = (spec: TransportSpec): Layer.Layer<ChannelLayer.ChannelLayer, Errors.InvalidOptions> =>
  Match.value(spec).pipe(
    Match.tagsExhaustive({
      RabbitMQ: ({ expiryMillis, queueType, url }) =>
        RabbitMQ.layer({
          url,
          queueType,
          // Short, so that the final wait for stragglers is bounded: nothing arrives after it.
          expiry: Duration.millis(expiryMillis),
          // The default (exponential from 100 ms, capped at 5 s, jittered), named here because the
          // recovery times measured depend on it.
          retrySchedule: RabbitMQ.defaultRetrySchedule
        }),
      ZeroMQDedicated: ({ expiryMillis, pushAddress, subscribeAddress }) =>
        ZeroMQ.layerDedicated({ pushAddress, subscribeAddress, expiry: Duration.millis(expiryMillis) }),
      ZeroMQEmbedded: ({ expiryMillis, publishAddress, subscribeAddresses }) =>
        ZeroMQ.layerEmbedded({ publishAddress, subscribeAddresses, expiry: Duration.millis(expiryMillis) })
    })
  )
