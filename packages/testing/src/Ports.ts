/**
 * Free TCP ports for the processes tests and the chaos run start: chosen at random in
 * 20000-31999, below Linux's ephemeral range (32768+), so that no outgoing connection takes one
 * while its owner (a stopped node, a killed proxy or producer) is down and must come back on it.
 * RabbitMQ's defaults (25600-25700) are avoided.
 */
import { Effect } from "effect"
import * as net from "node:net"

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)))
  })

/** `count` distinct ports that are free now. */
export const free = (count: number): Effect.Effect<ReadonlyArray<number>, Error> =>
  Effect.promise(async () => {
    const chosen: Array<number> = []
    for (let attempt = 0; attempt < 500 && chosen.length < count; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000)
      if (chosen.includes(port) || (port >= 25_600 && port <= 25_700)) continue
      if (await canListen(port)) chosen.push(port)
    }
    return chosen
  }).pipe(
    Effect.filterOrFail(
      (ports) => ports.length === count,
      () => new Error(`could not find ${count} free TCP ports in 20000-31999`)
    )
  )

/** A ZeroMQ endpoint on loopback. */
export const tcp = (port: number): string => `tcp://127.0.0.1:${port}`
