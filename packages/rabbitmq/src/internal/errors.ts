/**
 * What went wrong when connecting, in one line a user can act on, and whether retrying can help:
 * a refused login, a virtual host the user may not open or a TLS certificate problem stay that
 * way until the configuration changes, so operations waiting for a connection fail at once
 * instead of waiting out their bound (the layer keeps retrying in the background).
 */

/** A failure explained. */
export interface Explained {
  readonly text: string
  /** Retrying with the same configuration fails the same way. */
  readonly permanent: boolean
}

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/** One line: OpenSSL messages carry newlines and source paths. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim()

const tlsHints: ReadonlyArray<readonly [RegExp, string]> = [
  [/CERTIFICATE_REQUIRED|certificate required/i, "the broker requires a client certificate: set tls.cert and tls.key"],
  [
    /SELF_SIGNED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
    "the broker's certificate is not signed by a CA this process trusts: set tls.ca"
  ],
  [/CERT_HAS_EXPIRED/, "the broker's certificate has expired"],
  [/ERR_TLS_CERT_ALTNAME_INVALID/, "the broker's certificate is not for this host name: set tls.servername, or fix it"],
  [
    /ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA|ALERT_CERTIFICATE_UNKNOWN|bad certificate|unknown ca/i,
    "the broker refused the client certificate: is it signed by a CA the broker trusts?"
  ],
  [
    /ALERT_HANDSHAKE_FAILURE|WRONG_VERSION_NUMBER|wrong version number/i,
    "the TLS handshake failed: is this port amqps?"
  ]
]

/**
 * Explains an error from dialling and opening an AMQP connection to `vhost` as `username` (named
 * in the explanation of a refused virtual host, with the commands that make it).
 */
export const explainConnectError = (
  error: unknown,
  target: { readonly vhost: string; readonly username: string } = { vhost: "", username: "" }
): Explained => {
  if (!(error instanceof Error)) return { text: oneLine(String(error)), permanent: false }
  const code = codeOf(error)
  // OpenSSL errors have a short `reason` ("tlsv13 alert certificate required").
  const reason = (error as { reason?: unknown }).reason
  const base = oneLine(typeof reason === "string" && code?.startsWith("ERR_SSL") ? reason : error.message)
  const text = code !== undefined && !base.includes(code) ? `${base} (${code})` : base
  const probe = `${code ?? ""} ${error.message}`
  for (const [pattern, hint] of tlsHints) {
    if (pattern.test(probe)) return { text: `${text}: ${hint}`, permanent: true }
  }
  if (/ACCESS-REFUSED|ACCESS_REFUSED/.test(error.message)) {
    return { text: `${text}: check the user name and password in the URL`, permanent: true }
  }
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(error.message)) {
    const vhost = target.vhost === "" ? "" : ` ${target.vhost}`
    const user = target.username === "" ? "the user" : target.username
    const fix = target.vhost === "" ?
      "" :
      ` (create it with: rabbitmqctl add_vhost ${target.vhost} && rabbitmqctl set_permissions -p ${target.vhost} ` +
      `${user} '.*' '.*' '.*')`
    return {
      text: `the broker refused to open the virtual host${vhost}: it does not exist, or ${user} has no permission ` +
        `on it${fix}`,
      permanent: true
    }
  }
  if (/SASL mechanism/.test(error.message)) return { text, permanent: true }
  return { text, permanent: false }
}

/** A failure of the topology setup that retrying cannot fix. */
export class SetupRefused extends Error {}

/**
 * Explains a refused declaration of the groups exchange: an exchange of that name exists with
 * other properties (typically durable, which makes the Python layer or this one fail with 406).
 */
export const exchangeRefused = (exchange: string, error: unknown): Error => {
  const code = (error as { code?: unknown } | undefined)?.code
  const message = oneLine(error instanceof Error ? error.message : String(error))
  if (code === 406) {
    return new SetupRefused(
      `${message}: the exchange ${exchange} exists with other properties; the Python layer and this one declare ` +
        "it as a direct exchange, not durable, not auto-delete: delete it, or choose another groupsExchange"
    )
  }
  if (code === 403) {
    return new SetupRefused(`${message}: the user may not declare the exchange ${exchange} on this virtual host`)
  }
  return error instanceof Error ? error : new Error(message)
}

/** Explains a refused declaration of the layer's queue once the name is settled. */
export const queueRefused = (queue: string, error: unknown): Error => {
  const code = (error as { code?: unknown } | undefined)?.code
  const message = oneLine(error instanceof Error ? error.message : String(error))
  if (code === 403) return new SetupRefused(`${message}: the user may not declare the queue ${queue}`)
  return error instanceof Error ? error : new Error(message)
}
