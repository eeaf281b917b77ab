import type { Errors } from "@channel-layer/core"
import type * as Conformance from "@channel-layer/core/Conformance"
import { ZeroMQ } from "@channel-layer/zeromq"
import { Duration, Effect, Layer, Logger } from "effect"
import { remoteLayer, secondOfMultiInstanceTest } from "./remote.js"

type Addresses =
  | {
    readonly mode: "embedded"
    readonly addresses: () => Pick<ZeroMQ.EmbeddedOptions, "publishAddress" | "subscribeAddresses">
  }
  | {
    readonly mode: "dedicated"
    readonly addresses: () => Pick<ZeroMQ.DedicatedOptions, "pushAddress" | "subscribeAddress">
  }

/**
 * The conformance subject of a ZeroMQ mode: each instance gets the next `addresses()` and the
 * suite's capacity and expiry; the second instance of a multi-instance test runs in a process of
 * its own. Both modes declare the same capabilities: no normal channels (channels are
 * process-local).
 */
export const subject = (target: Addresses): Conformance.Subject<Errors.InvalidOptions> => ({
  make: ({ capacity, channelCapacity, expiry }) =>
    Layer.unwrapEffect(Effect.sync(() => {
      const common = {
        capacity,
        expiry: Duration.toMillis(expiry),
        linger: 0,
        ...(channelCapacity ? { channelCapacity } : {})
      }
      if (target.mode === "embedded") {
        const options = { ...target.addresses(), ...common }
        return secondOfMultiInstanceTest() ? remoteLayer("embedded", options) : ZeroMQ.layerEmbedded(options)
      }
      const options = { ...target.addresses(), ...common }
      return secondOfMultiInstanceTest() ? remoteLayer("dedicated", options) : ZeroMQ.layerDedicated(options)
    })).pipe(
      // The suite fills channels, lets messages expire and closes peers on purpose: the warnings
      // about it are expected, and not printed (Delivery, BackPressure and Api tests assert them).
      Layer.provide(Logger.remove(Logger.defaultLogger))
    ),
  capabilities: {
    normalChannels: false,
    capacity: { slack: 0 },
    channelCapacity: true,
    expiry: true,
    multiInstance: true
  },
  quietPeriod: Duration.millis(200)
})
