/**
 * Batched acknowledgements: the front run of finished deliveries goes as one `multiple` ack, a
 * finished delivery behind a pending one is acknowledged alone right away (so the prefetch window
 * is never held by a delivery that is done), nothing is acknowledged twice.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Channel } from "amqplib"
import { Acker } from "../src/internal/acker.js"

const fakeChannel = () => {
  const acks: Array<[number, boolean]> = []
  const channel = {
    ack: (message: { fields: { deliveryTag: number } }, allUpTo?: boolean) => {
      acks.push([message.fields.deliveryTag, allUpTo === true])
    }
  } as unknown as Channel
  return { acks, channel }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe("Acker", () => {
  it("acks a contiguous run with one multiple ack, once the burst is over", async () => {
    const { acks, channel } = fakeChannel()
    const acker = new Acker(channel, 100)
    for (let tag = 1; tag <= 100; tag++) acker.delivered(tag, new Uint8Array([tag]))
    for (let tag = 1; tag <= 100; tag++) acker.ack(tag)
    expect(acks).toEqual([])
    await tick()
    expect(acks).toEqual([[100, true]])
    expect(acker.outstanding).toBe(0)
  })

  it("acks a finished delivery behind a pending one on its own, then covers the rest from the front", async () => {
    const { acks, channel } = fakeChannel()
    const acker = new Acker(channel, 100)
    for (let tag = 1; tag <= 5; tag++) acker.delivered(tag, new Uint8Array([tag]))
    acker.ack(2)
    acker.ack(3)
    await tick()
    expect(acks).toEqual([[2, false], [3, false]])
    acker.ack(1)
    acker.ack(4)
    await tick()
    // 1 and 4 are done, 2 and 3 were sent: one multiple ack up to 4 covers exactly 1 and 4.
    expect(acks.slice(2)).toEqual([[4, true]])
    acker.ack(4)
    acker.ack(3)
    await tick()
    expect(acks.length).toBe(3)
    expect(acker.outstanding).toBe(1)
    acker.ack(5)
    await tick()
    expect(acks.slice(3)).toEqual([[5, true]])
  })

  it("drops acks once closed (the broker forgot the channel's tags)", async () => {
    const { acks, channel } = fakeChannel()
    const acker = new Acker(channel, 100)
    acker.delivered(1, new Uint8Array([1]))
    acker.ack(1)
    acker.close()
    acker.ack(1)
    await tick()
    expect(acks).toEqual([])
  })

  it("stops quietly when the channel throws", async () => {
    const channel = {
      ack: () => {
        throw new Error("Channel closed")
      }
    } as unknown as Channel
    const acker = new Acker(channel, 100)
    acker.delivered(1, new Uint8Array([1]))
    acker.delivered(2, new Uint8Array([2]))
    acker.ack(1)
    await tick()
    acker.ack(2)
    await tick()
    expect(acker.outstanding).toBe(0)
  })

  it("close returns what the broker may deliver again: every delivery not acknowledged, and the last prefetch acknowledged", async () => {
    const { channel } = fakeChannel()
    const acker = new Acker(channel, 3)
    const body = (tag: number) => new Uint8Array([tag])
    for (let tag = 1; tag <= 10; tag++) acker.delivered(tag, body(tag))
    // 2 stays pending; 1 and 3..8 are acknowledged (1 with a multiple ack, 3..8 one by one).
    for (const tag of [1, 3, 4, 5, 6, 7, 8]) acker.ack(tag)
    await tick()
    // 9 is done but its ack has not gone out yet; 10 is pending.
    acker.ack(9)
    const unsettled = acker.close().map((bytes) => bytes[0])
    expect(unsettled.sort((a, b) => a - b)).toEqual([2, 6, 7, 8, 9, 10])
    expect(acker.close()).toEqual([])
  })

  describe("with hold", () => {
    const hold = { count: 4, millis: 20 }
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

    it("holds the acks of a quiet consumer for hold.millis, then sends them as one", async () => {
      const { acks, channel } = fakeChannel()
      const acker = new Acker(channel, 100, hold)
      acker.delivered(1, new Uint8Array([1]))
      acker.ack(1)
      acker.delivered(2, new Uint8Array([2]))
      acker.ack(2)
      await tick()
      expect(acks).toEqual([])
      await sleep(hold.millis + 10)
      expect(acks).toEqual([[2, true]])
      expect(acker.outstanding).toBe(0)
    })

    it("acks at once, as without hold, once hold.count deliveries are unacknowledged", async () => {
      const { acks, channel } = fakeChannel()
      const acker = new Acker(channel, 100, hold)
      for (let tag = 1; tag <= 4; tag++) acker.delivered(tag, new Uint8Array([tag]))
      acker.ack(1)
      await tick()
      expect(acks).toEqual([[1, true]])
      // Three left unacknowledged (2 and 3 done, 4 pending): below hold.count, held again.
      acker.ack(2)
      acker.ack(3)
      await tick()
      expect(acks).toEqual([[1, true]])
      await sleep(hold.millis + 10)
      expect(acks).toEqual([[1, true], [3, true]])
      expect(acker.outstanding).toBe(1)
    })

    it("sends nothing after close, timer included", async () => {
      const { acks, channel } = fakeChannel()
      const acker = new Acker(channel, 100, hold)
      acker.delivered(1, new Uint8Array([1]))
      acker.ack(1)
      acker.close()
      await sleep(hold.millis + 10)
      expect(acks).toEqual([])
    })
  })
})
