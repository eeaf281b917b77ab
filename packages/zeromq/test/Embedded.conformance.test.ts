import * as Conformance from "@channel-layer/core/Conformance"
import { subject } from "./support/conformance.js"
import { freePorts, tcp } from "./support/ports.js"

// Every instance binds the next port of the list and subscribes to its neighbours' ports, so the
// two instances of a multi-instance test (always made one after the other) reach each other. The
// second instance of a multi-instance test runs in a process of its own.
const ports = await freePorts(200)
let next = 0

Conformance.suite(
  "ZeroMQ embedded",
  subject({
    mode: "embedded",
    addresses: () => {
      const n = next++
      return {
        publishAddress: tcp(ports[n]),
        subscribeAddresses: [n > 0 ? ports[n - 1] : undefined, ports[n + 1]]
          .filter((port) => port !== undefined)
          .map(tcp)
      }
    }
  })
)
