// The plain forwarder the ZeroMQ dedicated transport is compared with: a PULL socket that clients
// push to, an XPUB socket they subscribe at, and one loop handing each message from one to the
// other. Nothing else: no Effect runtime, no routing, no acknowledgements. It binds free loopback
// ports, prints them as one JSON line, and runs until its parent closes stdin or kills it.
import process from "node:process"
import { Pull, XPublisher } from "zeromq"

const pull = new Pull({ receiveHighWaterMark: 0, linger: 0 })
const pub = new XPublisher({ sendHighWaterMark: 0, noDrop: true, linger: 0 })
await pull.bind("tcp://127.0.0.1:*")
await pub.bind("tcp://127.0.0.1:*")
process.stdout.write(JSON.stringify({ pull: pull.lastEndpoint, pub: pub.lastEndpoint }) + "\n")
process.stdin.on("end", () => process.exit(0)).resume()

const readSubscriptions = async () => {
  // XPUB hands subscriptions up: read them so they never pile up.
  for await (const _ of pub) continue
}
readSubscriptions()
for await (const frames of pull) await pub.send(frames)
