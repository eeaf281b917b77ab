/**
 * ioredis against node-redis (@redis/client) on this transport's workload, against a live Redis:
 *
 * 1. send: the send script (trim by expiry, count against capacity, ZADD, EXPIRE) by EVALSHA,
 *    `concurrency` in flight on one connection (both clients pipeline them);
 * 2. receive: a BZPOPMIN loop on its own connection draining what a producer sends meanwhile
 *    (end-to-end throughput and latency, one message per round trip);
 *    then paced: one message at a time sent while the consumer waits (send to receipt);
 * 3. group send: the group script writing to 20 members' keys, `concurrency` in flight.
 *
 * Run: `npx tsx packages/redis/test/bench/clients.ts [redis://127.0.0.1:6379/15] [rounds]`.
 * Raw commands only (EVALSHA, BZPOPMIN with Buffer replies), so that both clients do the same.
 */
import { createClient, RESP_TYPES } from "@redis/client"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"

const url = process.argv[2] ?? "redis://127.0.0.1:6379/15"
const rounds = Number(process.argv[3] ?? 3)
const messages = 20_000
const concurrency = 100

const SEND = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[3] - ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`

const GROUP = `
local n = 0
for i = 1, #KEYS do
  if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[#KEYS + 1]) then
    redis.call('ZADD', KEYS[i], ARGV[#KEYS + 2], ARGV[i])
    redis.call('EXPIRE', KEYS[i], ARGV[#KEYS + 3])
    n = n + 1
  end
end
return n`

/** What a client under test must do: one command, with Buffer bulk replies. */
interface Client {
  readonly name: string
  readonly call: (args: ReadonlyArray<string | Buffer>) => Promise<unknown>
  readonly close: () => Promise<void>
}

const ioredis = async (): Promise<Client> => {
  const redis = new Redis(url, { lazyConnect: true, enableAutoPipelining: false })
  await redis.connect()
  return {
    name: "ioredis 6.1.0",
    call: (args) => redis.callBuffer(String(args[0]), ...args.slice(1)),
    close: async () => {
      redis.disconnect()
    }
  }
}

const nodeRedis = async (): Promise<Client> => {
  const client = createClient({ url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
  client.on("error", () => undefined)
  await client.connect()
  return {
    name: "@redis/client 6.4.0",
    call: (args) => client.sendCommand(args),
    close: async () => {
      client.destroy()
    }
  }
}

const body = () => Buffer.concat([randomBytes(12), randomBytes(120)])

const timed = async (run: () => Promise<void>): Promise<number> => {
  const start = performance.now()
  await run()
  return performance.now() - start
}

/** Runs `total` calls of `one`, `concurrency` at a time. */
const pooled = async (total: number, one: (i: number) => Promise<unknown>) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) await one(next++)
  }))
}

const benchOne = async (make: () => Promise<Client>) => {
  const producer = await make()
  const consumer = await make()
  const key = `bench-clients:${randomBytes(4).toString("hex")}!`
  const [sha] = [(await producer.call(["SCRIPT", "LOAD", SEND])) as Buffer]
  const groupSha = (await producer.call(["SCRIPT", "LOAD", GROUP])) as Buffer
  const now = () => String(Date.now() / 1000)
  const send = (k: string) => producer.call(["EVALSHA", sha, "1", k, body(), "1000000", now(), "60"])

  // 1. sends
  const sendMs = await timed(() => pooled(messages, () => send(key)))
  await producer.call(["DEL", key])

  // 2. a BZPOPMIN loop draining what is sent meanwhile, with the latency of each message.
  const latencies: Array<number> = []
  const sentAt = new Map<string, number>()
  const drain = (async () => {
    for (let got = 0; got < messages;) {
      const reply = (await consumer.call(["BZPOPMIN", key, "5"])) as [Buffer, Buffer, Buffer] | null
      if (reply === null) throw new Error("BZPOPMIN timed out")
      const at = sentAt.get(reply[1].subarray(0, 12).toString("hex"))
      if (at !== undefined) latencies.push(performance.now() - at)
      got++
    }
  })()
  const e2eMs = await timed(async () => {
    await pooled(messages, () => {
      const b = body()
      sentAt.set(b.subarray(0, 12).toString("hex"), performance.now())
      return producer.call(["EVALSHA", sha, "1", key, b, "1000000", now(), "60"])
    })
    await drain
  })
  latencies.sort((a, b) => a - b)

  // 2b. paced: one message at a time, sent while the consumer waits in BZPOPMIN.
  const paced: Array<number> = []
  for (let i = 0; i < 2000; i++) {
    const waiting = consumer.call(["BZPOPMIN", key, "5"])
    const start = performance.now()
    await send(key)
    await waiting
    paced.push(performance.now() - start)
  }
  paced.sort((a, b) => a - b)

  // 3. group sends to 20 member keys.
  const members = Array.from({ length: 20 }, (_, i) => `${key}m${i}!`)
  const groups = messages / 10
  const groupMs = await timed(() =>
    pooled(groups, () =>
      producer.call([
        "EVALSHA",
        groupSha,
        String(members.length),
        ...members,
        ...members.map(() => body()),
        "1000000",
        now(),
        "60"
      ]))
  )
  await producer.call(["DEL", ...members])
  await producer.close()
  await consumer.close()
  return {
    client: producer.name,
    sendsPerSecond: Math.round(messages / (sendMs / 1000)),
    endToEndPerSecond: Math.round(messages / (e2eMs / 1000)),
    floodP50Ms: Number(latencies[Math.floor(latencies.length * 0.5)].toFixed(2)),
    pacedP50Ms: Number(paced[Math.floor(paced.length * 0.5)].toFixed(3)),
    pacedP99Ms: Number(paced[Math.floor(paced.length * 0.99)].toFixed(3)),
    groupSendsPerSecond: Math.round(groups / (groupMs / 1000))
  }
}

const main = async () => {
  for (let round = 0; round < rounds; round++) {
    for (const make of round % 2 === 0 ? [ioredis, nodeRedis] : [nodeRedis, ioredis]) {
      console.log(JSON.stringify({ round, ...(await benchOne(make)) }))
    }
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
