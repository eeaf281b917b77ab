/**
 * A second, real RabbitMQ node that only speaks AMQP over TLS and requires a client
 * certificate, with a throwaway CA, server and client certificates made by the `openssl` CLI.
 *
 * What amqplib 2.3.1 (Node 20, OpenSSL 3) reports against this node, as observed by
 * `test/support.test.ts` (the transport has to turn these into clear messages):
 * - No client certificate (`{ ca }` only): `connect` rejects with a plain `Error` whose `code` is
 *   `"ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"` and whose message is OpenSSL's
 *   `"...:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:...
 *   SSL alert number 116"`. With TLS 1.3 the client finishes its side of the handshake before
 *   the server checks the certificate, so the failure arrives as the server's alert on the
 *   first read, a few milliseconds later; it was the same in 200 of 200 tries. Forcing TLS 1.2
 *   (`maxVersion: "TLSv1.2"`) gives `code` `"ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE"`
 *   ("sslv3 alert handshake failure ... SSL alert number 40") instead.
 * - No CA (server certificate not trusted): `code` `"SELF_SIGNED_CERT_IN_CHAIN"`,
 *   message "self-signed certificate in certificate chain".
 * - Host name not in the server certificate: `code` `"ERR_TLS_CERT_ALTNAME_INVALID"`.
 * amqplib uses the URL's host as the TLS server name, so the URL says `localhost` (in the
 * certificate's SAN together with 127.0.0.1).
 */
import type { Scope } from "effect"
import { Data, Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { exec, makeTempDir } from "./internal.js"
import * as Ports from "./Ports.js"
import type { RabbitNode, StartNodeOptions } from "./RabbitNode.js"
import { launchNode, RabbitNodeError } from "./RabbitNode.js"

export { RabbitNodeError, startNode } from "./RabbitNode.js"
export type { RabbitNode, StartNodeOptions } from "./RabbitNode.js"

/** `openssl` failed while making the certificates. */
export class CertificateError extends Data.TaggedError("CertificateError")<{
  readonly message: string
}> {}

/** PEM files made by {@link generateCertificates}. */
export interface CertificateFiles {
  readonly caFile: string
  readonly caKeyFile: string
  readonly serverCertFile: string
  readonly serverKeyFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
}

/**
 * Makes, in `dir` (created if missing), a CA, a server certificate for `localhost` / 127.0.0.1 (SAN) and a client
 * certificate (CN `guest`), both signed by the CA, with the `openssl` CLI (`$OPENSSL` to override).
 * Valid for 3 days. Calling it with another directory gives an unrelated CA (for "wrong CA" tests).
 */
export const generateCertificates = (dir: string): Effect.Effect<CertificateFiles, CertificateError> =>
  Effect.gen(function*() {
    const openssl = (args: ReadonlyArray<string>) =>
      exec(process.env.OPENSSL ?? "openssl", args, { cwd: dir, timeoutMs: 60_000 }).pipe(
        Effect.mapError((error) => new CertificateError({ message: `openssl: ${error.message}` }))
      )
    const file = (name: string) => path.join(dir, name)
    const writeExt = (name: string, lines: ReadonlyArray<string>) =>
      Effect.tryPromise({
        try: () => fs.promises.writeFile(file(name), lines.join("\n") + "\n"),
        catch: (cause) => new CertificateError({ message: `cannot write ${file(name)}: ${String(cause)}` })
      })
    yield* Effect.tryPromise({
      try: () => fs.promises.mkdir(dir, { recursive: true }),
      catch: (cause) => new CertificateError({ message: `cannot create ${dir}: ${String(cause)}` })
    })
    const serial = () => `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`

    yield* openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.pem"),
      "-days",
      "3",
      "-subj",
      "/CN=channel-layer test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    ])

    const leaf = (name: string, subject: string, ext: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        yield* writeExt(`${name}.ext`, [
          "basicConstraints=CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          ...ext
        ])
        yield* openssl([
          "req",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          file(`${name}.key`),
          "-out",
          file(`${name}.csr`),
          "-subj",
          subject
        ])
        yield* openssl([
          "x509",
          "-req",
          "-in",
          file(`${name}.csr`),
          "-CA",
          file("ca.pem"),
          "-CAkey",
          file("ca.key"),
          "-set_serial",
          serial(),
          "-days",
          "3",
          "-extfile",
          file(`${name}.ext`),
          "-out",
          file(`${name}.pem`)
        ])
      })

    yield* leaf("server", "/CN=localhost", ["subjectAltName=DNS:localhost,IP:127.0.0.1", "extendedKeyUsage=serverAuth"])
    yield* leaf("client", "/CN=guest", ["extendedKeyUsage=clientAuth"])

    return {
      caFile: file("ca.pem"),
      caKeyFile: file("ca.key"),
      serverCertFile: file("server.pem"),
      serverKeyFile: file("server.key"),
      clientCertFile: file("client.pem"),
      clientKeyFile: file("client.key")
    }
  })

/** A running TLS-only node; see {@link make}. */
export interface TlsBroker {
  /** The TLS listener port (127.0.0.1). */
  readonly port: number
  /** `amqps://guest:guest@localhost:<port>/asgi`. */
  readonly url: string
  /** CA certificate (PEM), to pass as `ca`. */
  readonly ca: Buffer
  /** Client certificate (PEM), to pass as `cert`. */
  readonly cert: Buffer
  /** Client private key (PEM, unencrypted), to pass as `key`. */
  readonly key: Buffer
  /** All certificate and key files. */
  readonly files: CertificateFiles
  /** The node itself (stop/start/kill, `ctl` for the Rabbitmqctl helpers, log file). */
  readonly node: RabbitNode
}

/** Options of {@link make}. */
export interface TlsBrokerOptions extends Omit<StartNodeOptions, "namePrefix"> {}

/**
 * Starts a TLS-only RabbitMQ node (`verify_peer`, `fail_if_no_peer_cert`) on a free port with
 * fresh certificates, waits until it is up with vhost `asgi` (guest has every permission), and
 * returns what a client needs. Takes about 4 s (certificates included). Closing the scope stops the node and deletes
 * its directory (certificates included).
 */
export const make = (
  options: TlsBrokerOptions = {}
): Effect.Effect<TlsBroker, RabbitNodeError | CertificateError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* makeTempDir("rabbit-tls-")
    const files = yield* generateCertificates(path.join(dir, "certs"))
    const [port, distPort] = yield* Ports.free(2).pipe(
      Effect.mapError((error) => new RabbitNodeError({ nodeName: "", message: error.message }))
    )
    const vhost = options.vhost ?? "asgi"
    const node = yield* launchNode({
      ...options,
      namePrefix: "rabbit-tls",
      startTimeout: options.startTimeout ?? Duration.seconds(60),
      dir,
      port,
      distPort,
      config: [
        "listeners.tcp = none",
        `listeners.ssl.default = 127.0.0.1:${port}`,
        `ssl_options.cacertfile = ${files.caFile}`,
        `ssl_options.certfile = ${files.serverCertFile}`,
        `ssl_options.keyfile = ${files.serverKeyFile}`,
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = true"
      ],
      url: (v = vhost) => `amqps://guest:guest@localhost:${port}/${encodeURIComponent(v)}`
    })
    const read = (file: string) =>
      Effect.tryPromise({
        try: () => fs.promises.readFile(file),
        catch: (cause) => new CertificateError({ message: `cannot read ${file}: ${String(cause)}` })
      })
    return {
      port,
      url: node.url(vhost),
      ca: yield* read(files.caFile),
      cert: yield* read(files.clientCertFile),
      key: yield* read(files.clientKeyFile),
      files,
      node
    } satisfies TlsBroker
  })
