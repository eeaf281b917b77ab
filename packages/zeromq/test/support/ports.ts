import { createServer } from "node:net"

const isFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const taken = new Set<number>()

/**
 * `count` distinct TCP ports on 127.0.0.1 that are free right now, chosen at random below the
 * kernel's ephemeral range (so no outgoing connection of another test holds them), and never
 * handed out twice in this process.
 */
export const freePorts = async (count: number): Promise<Array<number>> => {
  const ports: Array<number> = []
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (taken.has(port)) continue
    taken.add(port)
    if (await isFree(port)) ports.push(port)
  }
  return ports
}

export const tcp = (port: number): string => `tcp://127.0.0.1:${port}`
