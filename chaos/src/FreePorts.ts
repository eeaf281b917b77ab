/**
 * Free TCP ports for the ZeroMQ runs. Chosen in 20000-31999, below Linux's ephemeral range
 * (32768+), as the test support does for RabbitMQ nodes: a port has to stay free while its
 * owner (the killed proxy, the killed producer) is down and comes back on it, and an outgoing
 * connection could take an ephemeral one meanwhile.
 */
import { Effect } from "effect"
import * as net from "node:net"

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)))
  })

export const take = (count: number): Effect.Effect<ReadonlyArray<number>, Error> =>
  Effect.promise(async () => {
    const chosen: Array<number> = []
    for (let attempt = 0; attempt < 500 && chosen.length < count; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000)
      if (!chosen.includes(port) && await canListen(port)) chosen.push(port)
    }
    return chosen
  }).pipe(
    Effect.filterOrFail(
      (ports) => ports.length === count,
      () => new Error(`could not find ${count} free TCP ports in 20000-31999`)
    )
  )

export const tcp = (port: number): string => `tcp://127.0.0.1:${port}`
