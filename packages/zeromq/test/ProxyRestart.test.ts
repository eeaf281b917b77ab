// The proxy is killed (SIGKILL, no goodbye) in the middle of a stream and started again on the
// same ports: consumers keep their pending receive, reconnect, resubscribe, and delivery resumes.
import { afterEach, expect, it } from "vitest"
import { freePorts, tcp } from "./support/ports.js"
import { type Child, startAgent, startProxy } from "./support/processes.js"

const running: Array<Child> = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL")
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

it("delivery resumes after the proxy is killed and restarted mid-stream", async () => {
  const [pull, pub] = await freePorts(2)
  const first = await startProxy(tcp(pull), tcp(pub))
  running.push(first)
  const options = { pushAddress: tcp(pull), subscribeAddress: tcp(pub) }
  const consumer = await startAgent("dedicated", options)
  const producer = await startAgent("dedicated", options)
  running.push(consumer, producer)
  const channel = await consumer.call({ op: "newChannel" })
  const member = await consumer.call({ op: "newChannel" })
  await consumer.call({ op: "groupAdd", group: "restart", channel: member })

  const count = 150
  // Pending receives on both channels for the whole run.
  const direct = consumer.start({ op: "collect", channel, last: count - 1, timeoutMs: 30_000 })
  const group = consumer.start({ op: "collect", channel: member, last: count - 1, timeoutMs: 30_000 })
  const sendingDirect = producer.start({ op: "sendEvery", channel, count, intervalMs: 20 })
  const sendingGroup = producer.start({ op: "sendEvery", group: "restart", count, intervalMs: 20 })

  await sleep(1000) // about 50 messages of each
  first.kill("SIGKILL")
  expect((await first.exited).signal).toBe("SIGKILL")
  await sleep(500)
  const second = await startProxy(tcp(pull), tcp(pub))
  running.push(second)

  const [directSeen, groupSeen] = [(await direct.result).ok, (await group.result).ok]
  const failures = [(await sendingDirect.result).ok.failures, (await sendingGroup.result).ok.failures]
  for (const seen of [directSeen, groupSeen]) {
    // Resumed: the last message arrived, and everything sent well after the restart arrived,
    // in order (what the killed proxy had in flight may be lost: PUB/SUB is at most once).
    expect(seen).toContain(count - 1)
    expect(seen.filter((i: number) => i >= 120)).toEqual(Array.from({ length: 30 }, (_, i) => 120 + i))
    expect([...seen].sort((a: number, b: number) => a - b)).toEqual(seen)
  }
  expect(failures).toEqual([{}, {}]) // the PUSH socket queued what was sent while the proxy was down
  expect(consumer.output()).toMatch(/reconnected to tcp:\/\/127\.0\.0\.1/)

  // A channel made after the restart works too.
  const later = await consumer.call({ op: "newChannel" })
  await producer.call({ op: "send", channel: later, message: { type: "t.after" } })
  expect(await consumer.call({ op: "receive", channel: later })).toEqual({ type: "t.after" })
  console.log(
    `proxy restart: ${directSeen.length}/${count} direct and ${groupSeen.length}/${count} group messages arrived`
  )
  consumer.close()
  producer.close()
  expect(await consumer.exited).toEqual({ code: 0, signal: null })
  expect(await producer.exited).toEqual({ code: 0, signal: null })
  second.kill("SIGTERM")
  expect(await second.exited).toEqual({ code: 0, signal: null })
}, 60_000)
