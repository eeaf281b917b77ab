/**
 * A ZAP handler (ZeroMQ RFC 27) that lets CURVE clients in only when their public key is in an
 * allow list: the client authentication half of CURVE (the handshake alone authenticates the
 * server). ZAP handlers are per zeromq context, so a layer with authorized keys gets a context of
 * its own. One fiber reads each request and answers it before reading the next.
 *
 * @since 0.1.0
 */
import { Errors, type Warnings } from "@channel-layer/core"
import type { Scope } from "effect"
import { Effect } from "effect"
import * as zmq from "zeromq"
import * as Reader from "./Reader.js"
import * as Sockets from "./Sockets.js"
import * as Z85 from "./Z85.js"

/**
 * The endpoint libzmq sends ZAP requests to.
 *
 * @since 0.1.0
 * @category constants
 */
export const ENDPOINT = "inproc://zeromq.zap.01"

const refused: Warnings.Kind = {
  key: "zap-refused",
  render: (total, top) => `refused ${total} CURVE clients whose public key is not in curve.authorizedKeys: ${top}`
}

/**
 * Starts a ZAP handler in `context` that accepts the CURVE clients whose public key is in
 * `authorizedKeys` (and refuses every other mechanism).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  context: zmq.Context,
  authorizedKeys: ReadonlySet<string>,
  warnings: Warnings.Warnings
): Effect.Effect<void, Errors.InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const router = yield* Sockets.acquire(() => new zmq.Router({ context, linger: 0 }))
    yield* Effect.tryPromise({
      try: () => router.bind(ENDPOINT),
      catch: (error) =>
        new Errors.InvalidOptions({
          option: "curve.authorizedKeys",
          reason: `cannot start the ZAP handler: ${Sockets.message(error)}`
        })
    })
    const answer = (request: Array<Buffer>): Array<Buffer | string> => {
      // routing id, empty delimiter, version, request id, domain, address, identity, mechanism, credentials
      const [routingId, , version, requestId, , address, , mechanism, credential] = request
      const reply = (
        status: string,
        text: string,
        userId = ""
      ) => [routingId, "", version ?? "1.0", requestId ?? "", status, text, userId, ""]
      if (mechanism?.toString() !== "CURVE" || credential === undefined || credential.length !== 32) {
        return reply("400", "only CURVE clients are accepted")
      }
      const key = Z85.encode(credential)
      if (authorizedKeys.has(key)) return reply("200", "OK", key)
      warnings.report(refused, `${key} from ${address?.toString() ?? "?"}`)
      return reply("400", "client key not authorized")
    }
    yield* Reader.start(router, "the ZAP handler", (request) => router.send(answer(request)).catch(() => {}))
  })
