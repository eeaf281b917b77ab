// CURVE on every socket: encryption with the server's key, client authentication with a ZAP
// handler. A consumer with a wrong key receives nothing, and its log says why.
import { afterEach, describe, expect, it } from "vitest"
import { curveKeyPair } from "zeromq"
import { freePorts, tcp } from "./support/ports.js"
import { type Agent, type Child, startAgent, startProxy } from "./support/processes.js"

const running: Array<Child> = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL")
})
const tracked = async (agent: Promise<Agent>) => {
  const started = await agent
  running.push(started)
  return started
}

const server = curveKeyPair()
const client = curveKeyPair()
const stranger = curveKeyPair()

/** Joins a group and tries to receive one message sent to it. */
const member = async (agent: Agent) => {
  const channel = await agent.call({ op: "newChannel" })
  await agent.call({ op: "groupAdd", group: "secure", channel })
  return channel
}

describe("embedded", () => {
  it("a consumer with the right server key receives; one with a wrong key receives nothing and logs why", async () => {
    const [producerPort, goodPort, badPort] = await freePorts(3)
    const producer = await tracked(startAgent("embedded", {
      publishAddress: tcp(producerPort),
      curve: { ...server }
    }))
    const consumerOptions = (port: number, serverPublicKey: string) => ({
      publishAddress: tcp(port),
      subscribeAddresses: [tcp(producerPort)],
      curve: { ...client, serverPublicKey }
    })
    const good = await tracked(startAgent("embedded", consumerOptions(goodPort, server.publicKey)))
    const bad = await tracked(startAgent("embedded", consumerOptions(badPort, stranger.publicKey)))
    const [goodChannel, badChannel] = [await member(good), await member(bad)]
    await producer.call({ op: "groupSend", group: "secure", message: { type: "t.secret", n: 1 } })
    await producer.call({ op: "send", channel: goodChannel, message: { type: "t.secret", n: 2 } })
    await producer.call({ op: "send", channel: badChannel, message: { type: "t.secret", n: 3 } })
    expect(await good.call({ op: "receiveMany", channel: goodChannel, count: 2 })).toEqual([
      { type: "t.secret", n: 1 },
      { type: "t.secret", n: 2 }
    ])
    await expect(bad.call({ op: "receive", channel: badChannel, timeoutMs: 1000 })).rejects.toThrow("Timeout")
    expect(bad.output()).toMatch(/the SUB socket: \d+ failed handshakes: tcp:\/\/127\.0\.0\.1:\d+: .*CURVE/)
    expect(bad.output()).toMatch(/curve\.serverPublicKey/)
    good.close()
    bad.close()
    producer.close()
    for (const agent of [good, bad, producer]) expect(await agent.exited).toEqual({ code: 0, signal: null })
  }, 30_000)

  it("with authorizedKeys, a client whose key is not listed is refused, and both sides log it", async () => {
    const [producerPort, goodPort, badPort] = await freePorts(3)
    const producer = await tracked(startAgent("embedded", {
      publishAddress: tcp(producerPort),
      curve: { ...server, authorizedKeys: [client.publicKey] }
    }))
    const consumerOptions = (port: number, keys: { publicKey: string; secretKey: string }) => ({
      publishAddress: tcp(port),
      subscribeAddresses: [tcp(producerPort)],
      curve: { ...keys, serverPublicKey: server.publicKey }
    })
    const good = await tracked(startAgent("embedded", consumerOptions(goodPort, client)))
    const bad = await tracked(startAgent("embedded", consumerOptions(badPort, stranger)))
    const [goodChannel, badChannel] = [await member(good), await member(bad)]
    await producer.call({ op: "groupSend", group: "secure", message: { type: "t.secret" } })
    expect(await good.call({ op: "receive", channel: goodChannel })).toEqual({ type: "t.secret" })
    await expect(bad.call({ op: "receive", channel: badChannel, timeoutMs: 1000 })).rejects.toThrow("Timeout")
    expect(bad.output()).toMatch(/refused this process's CURVE key \(ZAP status 400\)/)
    expect(producer.output()).toMatch(/refused \d+ CURVE clients whose public key is not in curve\.authorizedKeys/)
    expect(producer.output()).toContain(stranger.publicKey)
    for (const agent of [good, bad, producer]) agent.close()
    for (const agent of [good, bad, producer]) expect(await agent.exited).toEqual({ code: 0, signal: null })
  }, 30_000)
})

describe("dedicated", () => {
  it(
    "the proxy is a CURVE server; a layer with a wrong proxy key cannot confirm its channel and says why",
    async () => {
      const [pull, pub] = await freePorts(2)
      const proxy = await startProxy(tcp(pull), tcp(pub), ["--curve-secret-key", server.secretKey])
      running.push(proxy)
      const options = (serverPublicKey: string) => ({
        pushAddress: tcp(pull),
        subscribeAddress: tcp(pub),
        confirmTimeout: 1500,
        curve: { serverPublicKey }
      })
      const good = await tracked(startAgent("dedicated", options(server.publicKey)))
      const bad = await tracked(startAgent("dedicated", options(stranger.publicKey)))
      const channel = await good.call({ op: "newChannel" })
      await good.call({ op: "send", channel, message: { type: "t.secret" } })
      expect(await good.call({ op: "receive", channel })).toEqual({ type: "t.secret" })
      const failure = await bad.start({ op: "newChannel" }).result
      expect(failure.error).toBe("ConnectionClosed")
      expect(failure.message).toMatch(/no confirmation within 1500 ms that the subscription reached the proxy/)
      expect(failure.message).toMatch(/handshake with tcp:\/\/127\.0\.0\.1:\d+ failed/)
      good.close()
      bad.close()
      for (const agent of [good, bad]) expect(await agent.exited).toEqual({ code: 0, signal: null })
      proxy.kill("SIGTERM")
      expect(await proxy.exited).toEqual({ code: 0, signal: null })
    },
    30_000
  )
})
