/**
 * The ZeroMQ dedicated run: producer and consumer through a `channel-layer-zmq-proxy`, killed
 * with SIGKILL (one kill per 30 s of run, at least one) and started again on the same ports.
 */
import { Ports } from "@channel-layer/testing"
import type { Scope } from "effect"
import { Effect } from "effect"
import { killOffsets } from "../Faults.js"
import type { TransportSpec } from "../Protocol.js"
import type { RunResult } from "../Report.js"
import * as Session from "../Session.js"
import * as ZmqProxyProcess from "../ZmqProxyProcess.js"

/** How long the proxy stays dead: long enough for both layers to notice. */
const downtime = "1 second"

export const run = (settings: Session.RunSettings): Effect.Effect<RunResult, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const [pullPort, publishPort] = yield* Ports.free(2)
    const proxy = yield* ZmqProxyProcess.make({
      pullPort,
      publishPort,
      logDir: Session.runDir(settings, "zeromq-dedicated")
    })
    // Up before the layers start (they would wait for it anyway).
    yield* proxy.start
    const spec: TransportSpec = {
      _tag: "ZeroMQDedicated",
      pushAddress: proxy.pullAddress,
      subscribeAddress: proxy.publishAddress,
      expiryMillis: settings.expiryMillis
    }
    return yield* Session.run(
      "zeromq-dedicated",
      settings,
      { producer: spec, consumer: spec, producerFirst: false },
      (session) =>
        Effect.forEach(killOffsets(settings.sendingMillis), (offset) =>
          Effect.gen(function*() {
            yield* session.sleepUntil(offset)
            yield* session.whole(
              Effect.gen(function*() {
                const at = Date.now()
                yield* proxy.kill
                yield* session.log("proxy killed with SIGKILL")
                yield* Effect.sleep(downtime)
                yield* proxy.start
                const up = Date.now()
                yield* session.faults.record({ _tag: "ProxyKill", at, up })
                yield* session.log(`proxy listening again after ${((up - at) / 1000).toFixed(1)} s`)
              })
            )
          }), { discard: true })
    )
  })
