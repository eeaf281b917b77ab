/**
 * TLS against a real TLS listener: a second RabbitMQ node (`TlsBroker`) that speaks only AMQP
 * over TLS, with `verify_peer` and `fail_if_no_peer_cert`, and certificates made by openssl for
 * the test. The layer connects with the CA, a client certificate and its key; without the
 * client certificate it must fail with a typed error that says what is wrong.
 */
import { Rabbitmqctl, TlsBroker } from "@channel-layer/testing"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { captureLogs, instance, unique } from "./fault-helpers.js"

class Tls extends Context.Tag("tls.test/Tls")<Tls, TlsBroker.TlsBroker>() {}

const TlsLive = Layer.scoped(Tls, TlsBroker.make())

describe("RabbitMQ over TLS", () => {
  layer(TlsLive, { timeout: 90_000, excludeTestServices: true })((it) => {
    it.scoped(
      "with the CA, a client certificate and its key: direct and group messages both ways",
      () =>
        Effect.gen(function*() {
          const tls = yield* Tls
          const options = { url: tls.url, tls: { ca: tls.ca, cert: tls.cert, key: tls.key } }
          const alice = yield* instance(options)
          const bob = yield* instance({
            ...options,
            tls: { ca: tls.ca.toString(), cert: tls.cert.toString(), key: tls.key.toString() }
          })
          const a = yield* alice.layer.newChannel("alice")
          const b = yield* bob.layer.newChannel("bob")
          const queue = yield* alice.services.connection.queue
          expect(a.startsWith(`${queue}!`)).toBe(true)

          yield* alice.layer.send(b, { type: "tls.hello", bytes: new Uint8Array([1, 2, 3]) })
          expect(yield* bob.layer.receive(b)).toEqual({ type: "tls.hello", bytes: new Uint8Array([1, 2, 3]) })
          yield* bob.layer.send(a, { type: "tls.reply", n: 42 })
          expect(yield* alice.layer.receive(a)).toEqual({ type: "tls.reply", n: 42 })

          const group = unique("tls-room")
          yield* alice.layer.groupAdd(group, a)
          yield* bob.layer.groupAdd(group, b)
          yield* bob.layer.groupSend(group, { type: "tls.group", text: "to everyone" })
          expect(yield* alice.layer.receive(a)).toEqual({ type: "tls.group", text: "to everyone" })
          expect(yield* bob.layer.receive(b)).toEqual({ type: "tls.group", text: "to everyone" })

          // The queue really lives on the TLS node.
          const queues = yield* Rabbitmqctl.listQueues("asgi", tls.node.ctl)
          expect(queues.map((row) => row.name)).toContain(queue)
        }),
      { timeout: 30_000 }
    )

    it.scoped(
      "without a client certificate: ConnectionClosed saying that the broker requires one",
      () =>
        Effect.gen(function*() {
          const tls = yield* Tls
          const logs = yield* captureLogs()
          const layer = yield* instance({ url: tls.url, tls: { ca: tls.ca }, waitForConnection: "3 seconds" })
          const error = yield* layer.layer.newChannel().pipe(Effect.flip)
          const warning = logs.find((line) => line.message.startsWith("cannot connect to RabbitMQ"))
          console.log(`without a client certificate: ${error._tag}: ${error.message}`)
          console.log(`logged as: ${warning?.message}`)
          expect(error._tag).toBe("ConnectionClosed")
          expect(error.message).toContain(`localhost:${tls.port}`)
          expect(error.message).toMatch(/certificate required/i)
          expect(warning?.message).toMatch(/certificate required/i)
        }),
      { timeout: 30_000 }
    )

    it.scoped(
      "without the CA: ConnectionClosed saying that the broker's certificate is not trusted",
      () =>
        Effect.gen(function*() {
          const tls = yield* Tls
          const layer = yield* instance({
            url: tls.url,
            tls: { cert: tls.cert, key: tls.key },
            waitForConnection: "3 seconds"
          })
          const error = yield* layer.layer.send(`${"channels_abcdefghijkl"}!x`, { type: "tls.nope" }).pipe(
            Effect.flip
          )
          console.log(`without the CA: ${error._tag}: ${error.message}`)
          expect(error._tag).toBe("ConnectionClosed")
          expect(error.message).toMatch(/self-signed certificate in certificate chain/)
        }),
      { timeout: 30_000 }
    )
  })
})
