import * as Conformance from "@channel-layer/core/Conformance"
import { ZeroMQ } from "@channel-layer/zeromq"
import { Duration, Effect, Layer } from "effect"
import { freePorts, tcp } from "./support/ports.js"
import { remoteLayer, secondOfMultiInstanceTest } from "./support/remote.js"

// Every instance binds the next port of the list and subscribes to its neighbours' ports, so the
// two instances of a multi-instance test (always made one after the other) reach each other. The
// second instance of a multi-instance test runs in a process of its own.
const ports = await freePorts(200)
let next = 0

Conformance.suite("ZeroMQ embedded", {
  make: ({ capacity, channelCapacity, expiry }) =>
    Layer.unwrapEffect(Effect.sync(() => {
      const n = next++
      const options = {
        publishAddress: tcp(ports[n]),
        subscribeAddresses: [n > 0 ? ports[n - 1] : undefined, ports[n + 1]]
          .filter((port) => port !== undefined)
          .map(tcp),
        capacity,
        expiry: Duration.toMillis(expiry),
        linger: 0,
        ...(channelCapacity ? { channelCapacity } : {})
      }
      return secondOfMultiInstanceTest() ? remoteLayer("embedded", options) : ZeroMQ.layerEmbedded(options)
    })),
  capabilities: {
    flush: false,
    normalChannels: false,
    capacity: { slack: 0 },
    channelCapacity: false,
    expiry: true,
    multiInstance: true
  },
  quietPeriod: Duration.millis(200)
})
