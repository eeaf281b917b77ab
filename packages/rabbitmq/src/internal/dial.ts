/**
 * Opening one AMQP connection: every address of every URL in turn, each bounded by
 * `connectTimeout`, with Nagle off and the TLS material for `amqps://`.
 */
import amqp from "amqplib"
import type { ChannelModel, Options as AmqpOptions, SocketOptions } from "amqplib"
import { Duration, Effect, Redacted } from "effect"
import { isIP } from "node:net"
import type { ConnectionOptions } from "node:tls"
import type { TlsOptions } from "../RabbitMQ.js"
import * as Endpoints from "./endpoints.js"
import { explainConnectError } from "./errors.js"
import type { Resolved } from "./options.js"
import { coalesceWrites } from "./socket.js"

/** Every address failed; `reason` lists what each one said. */
export class DialError {
  readonly _tag = "DialError"
  constructor(
    readonly reason: string,
    /** Every address failed in a way retrying cannot fix (see `explainConnectError`). */
    readonly permanent: boolean
  ) {}
}

const reveal = <A>(value: A | Redacted.Redacted<A>): A => Redacted.isRedacted(value) ? Redacted.value(value) : value

const toBuffer = (pem: string | Uint8Array | Redacted.Redacted<string>): string | Buffer => {
  const value = reveal(pem)
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

const tlsSocketOptions = (tls: TlsOptions | undefined, target: Endpoints.Target): ConnectionOptions => {
  const out: ConnectionOptions = {}
  // The socket dials an address, so name the host for SNI and certificate checks (names only).
  const { hostname } = target.endpoint
  if (tls?.servername !== undefined) out.servername = tls.servername
  else if (isIP(hostname) === 0) out.servername = hostname
  if (tls === undefined) return out
  if (tls.ca !== undefined) out.ca = Array.isArray(tls.ca) ? tls.ca.map(toBuffer) : toBuffer(tls.ca as string)
  if (tls.cert !== undefined) out.cert = toBuffer(tls.cert)
  if (tls.key !== undefined) out.key = toBuffer(tls.key)
  if (tls.passphrase !== undefined) out.passphrase = reveal(tls.passphrase)
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized
  return out
}

const ignore = () => {}

/** One attempt at one address; a connection that opens after the attempt was abandoned is closed. */
const attempt = (options: Resolved, target: Endpoints.Target, connectionName: string) =>
  Effect.async<ChannelModel, Error>((resume) => {
    const { endpoint } = target
    const heartbeat = options.heartbeat ?? endpoint.heartbeat
    const args: AmqpOptions.Connect = {
      protocol: endpoint.protocol,
      hostname: target.address,
      port: endpoint.port,
      username: endpoint.username,
      password: endpoint.password,
      vhost: endpoint.vhost,
      ...(heartbeat !== undefined ? { heartbeat } : {}),
      ...(endpoint.frameMax !== undefined ? { frameMax: endpoint.frameMax } : {}),
      ...(endpoint.channelMax !== undefined ? { channelMax: endpoint.channelMax } : {}),
      ...(endpoint.locale !== undefined ? { locale: endpoint.locale } : {})
    }
    const socket: SocketOptions = {
      ...(endpoint.protocol === "amqps" ? tlsSocketOptions(options.tls, target) : {}),
      noDelay: true,
      timeout: options.connectTimeout,
      clientProperties: { connection_name: connectionName }
    }
    let abandoned = false
    let promise: Promise<ChannelModel>
    try {
      promise = amqp.connect(args, socket)
    } catch (error) {
      resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
      return
    }
    promise.then(
      (model) => {
        // An 'error' without a listener would crash the process; the manager adds its own.
        model.on("error", ignore)
        coalesceWrites(model)
        if (abandoned) {
          model.close().catch(ignore)
        } else {
          resume(Effect.succeed(model))
        }
      },
      (error) => {
        if (!abandoned) resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
      }
    )
    return Effect.sync(() => {
      abandoned = true
    })
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(options.connectTimeout),
      onTimeout: () => new Error(`no answer within connectTimeout (${options.connectTimeout} ms)`)
    })
  )

/**
 * Opens a connection to the first address that answers, trying every URL in order and, for a
 * host name, every address it resolves to. Fails with every address's reason.
 */
export const dial = (
  options: Resolved,
  connectionName: string,
  lookup?: Endpoints.Lookup
): Effect.Effect<{ readonly model: ChannelModel; readonly target: Endpoints.Target }, DialError> =>
  Effect.gen(function*() {
    const { failures, targets } = yield* Endpoints.resolve(options.endpoints, lookup)
    const reasons = [...failures]
    let permanent = failures.length === 0 && targets.length > 0
    for (const target of targets) {
      const result = yield* Effect.either(attempt(options, target, connectionName))
      if (result._tag === "Right") return { model: result.right, target }
      const explained = explainConnectError(result.left, target.endpoint)
      permanent &&= explained.permanent
      reasons.push(`${target.label}: ${explained.text}`)
    }
    return yield* Effect.fail(new DialError(reasons.join("; "), permanent))
  })
