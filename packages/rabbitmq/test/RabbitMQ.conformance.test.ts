import * as Conformance from "@channel-layer/core/Conformance"
import { RabbitMQ } from "@channel-layer/rabbitmq"
import { Layer, Logger } from "effect"
import { url } from "./helpers.js"

/**
 * The prefetch of the instances under test, and so how far a send may run past `capacity` (the
 * broker may have handed that many messages to the instance already). It must also exceed what
 * the model test leaves unreceived: deliveries waiting locally hold the prefetch window, and a
 * test that then receives one channel at a time would wait on messages queued behind them (the
 * head-of-line blocking the Python layer's `local_capacity` has too).
 */
const localCapacity = 100

Conformance.suite("RabbitMQ", {
  // The suite lets messages expire and fills the local buffer on purpose: the warnings about it are
  // expected, and not printed (behaviour.test.ts asserts the back-pressure one).
  make: ({ capacity, expiry }) =>
    RabbitMQ.layer({ url, remoteCapacity: capacity, expiry, localCapacity }).pipe(
      Layer.provide(Logger.remove(Logger.defaultLogger))
    ),
  capabilities: {
    normalChannels: false,
    capacity: { slack: localCapacity },
    channelCapacity: false,
    expiry: true,
    multiInstance: true
  }
})
