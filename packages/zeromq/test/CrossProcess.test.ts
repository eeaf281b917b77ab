// Producers and consumers in separate processes (test/fixtures/agent.ts), in both modes. Every
// agent is closed at the end and must then exit by itself: a socket or fiber left open would keep
// it alive.
import { afterEach, describe, expect, it } from "vitest"
import { freePorts, tcp } from "./support/ports.js"
import { type Agent, type Child, startAgent, startProxy } from "./support/processes.js"

const running: Array<Child> = []

const track = <A extends Child>(child: A): A => {
  running.push(child)
  return child
}

/** Closes the agents and checks that each process then exits by itself, with status 0. */
const closeAll = async (agents: ReadonlyArray<Agent>) => {
  for (const agent of agents) agent.close()
  const exits = await Promise.all(agents.map((agent) =>
    Promise.race([
      agent.exited,
      new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 10_000))
    ])
  ))
  for (const [i, exit] of exits.entries()) {
    expect(exit, agents[i].output()).toEqual({ code: 0, signal: null })
  }
}

afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL")
})

/** How a test makes layers of one mode: a producer and consumers that reach it. */
interface Topology {
  readonly producer: () => Promise<Agent>
  readonly consumer: () => Promise<Agent>
  readonly stop: () => Promise<void>
}

const embedded = async (): Promise<Topology> => {
  const [producerPort, ...consumerPorts] = await freePorts(6)
  return {
    producer: async () => track(await startAgent("embedded", { publishAddress: tcp(producerPort) })),
    consumer: async () =>
      track(
        await startAgent("embedded", {
          publishAddress: tcp(consumerPorts.shift()!),
          subscribeAddresses: [tcp(producerPort)]
        })
      ),
    stop: async () => {}
  }
}

const dedicated = async (): Promise<Topology> => {
  const [pull, pub] = await freePorts(2)
  const proxy = track(await startProxy(tcp(pull), tcp(pub)))
  const options = { pushAddress: tcp(pull), subscribeAddress: tcp(pub) }
  return {
    producer: async () => track(await startAgent("dedicated", options)),
    consumer: async () => track(await startAgent("dedicated", options)),
    stop: async () => {
      proxy.kill("SIGTERM")
      expect(await proxy.exited).toEqual({ code: 0, signal: null })
    }
  }
}

const bytes = new Uint8Array([0, 1, 127, 128, 255])

describe.each([["embedded", embedded], ["dedicated", dedicated]] as const)(
  "%s, across processes",
  (_mode, topology) => {
    it("a direct send to a channel made by newChannel in another process arrives", async () => {
      const { consumer, producer, stop } = await topology()
      // The consumer first: in embedded mode the producer binds after the consumer subscribed, so
      // the producer holds the message until the consumer's subscription reaches it.
      const receiver = await consumer()
      const channel = await receiver.call({ op: "newChannel", prefix: "websocket" })
      expect(channel).toMatch(new RegExp(`^websocket\\.${receiver.clientId}![a-zA-Z]{12}$`))
      const sender = await producer()
      await sender.call({ op: "send", channel, message: { type: "t.direct", n: 1, bytes } })
      // A channel made after the sender is up: sent to right after newChannel returned.
      const channel2 = await receiver.call({ op: "newChannel" })
      await sender.call({ op: "send", channel: channel2, message: { type: "t.direct", n: 2 } })
      expect(await receiver.call({ op: "receive", channel })).toEqual({ type: "t.direct", n: 1, bytes })
      expect(await receiver.call({ op: "receive", channel: channel2 })).toEqual({ type: "t.direct", n: 2 })
      // FIFO per sender and channel.
      await sender.call({ op: "sendMany", channel, count: 200, message: { type: "t.seq" } })
      const received = await receiver.call({ op: "receiveMany", channel, count: 200 })
      expect(received.map((message: any) => message.i)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      await closeAll([receiver, sender])
      await stop()
    })

    it("a group send fans out to members in several consumer processes", async () => {
      const { consumer, producer, stop } = await topology()
      const sender = await producer()
      const consumers = await Promise.all([consumer(), consumer(), consumer()])
      const channels: Array<Array<string>> = []
      for (const agent of consumers) {
        // Two members in each process: one delivery per process, fanned out locally.
        const own = [await agent.call({ op: "newChannel" }), await agent.call({ op: "newChannel" })]
        for (const channel of own) await agent.call({ op: "groupAdd", group: "room-42", channel })
        channels.push(own)
      }
      // Sent right after the last groupAdd returned: no sleep.
      for (let i = 0; i < 20; i++) {
        await sender.call({ op: "groupSend", group: "room-42", message: { type: "chat.message", i, bytes } })
      }
      for (const [c, agent] of consumers.entries()) {
        for (const channel of channels[c]) {
          const received = await agent.call({ op: "receiveMany", channel, count: 20 })
          expect(received).toEqual(Array.from({ length: 20 }, (_, i) => ({ type: "chat.message", i, bytes })))
        }
      }
      // After the last local member leaves, the process unsubscribes; the others still get it.
      await consumers[0].call({ op: "groupDiscard", group: "room-42", channel: channels[0][0] })
      await consumers[0].call({ op: "groupDiscard", group: "room-42", channel: channels[0][1] })
      await sender.call({ op: "groupSend", group: "room-42", message: { type: "chat.message", i: 20 } })
      expect(await consumers[1].call({ op: "receive", channel: channels[1][0] })).toEqual({
        type: "chat.message",
        i: 20
      })
      await expect(consumers[0].call({ op: "receive", channel: channels[0][0], timeoutMs: 300 })).rejects.toThrow(
        "Timeout"
      )
      await closeAll([sender, ...consumers])
      await stop()
    })
  }
)
