import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { parse, stringify } from "./json.js"

const tsx = createRequire(import.meta.url).resolve("tsx")
const root = fileURLToPath(new URL("../..", import.meta.url))

/** A child process running TypeScript from this package, with its output collected. */
export interface Child {
  readonly process: ChildProcess
  /** Everything written to stdout and stderr so far. */
  readonly output: () => string
  /** Parsed JSON lines written to stdout so far (other lines are skipped). */
  readonly events: () => Array<any>
  /** Resolves once an output line matches: with the line for a pattern, the event for a predicate. */
  readonly waitFor: (pattern: RegExp | ((event: any) => boolean), timeoutMs?: number) => Promise<any>
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly kill: (signal?: NodeJS.Signals) => void
}

/** Runs a TypeScript file of this package with tsx and the channel-layer-source condition. */
export const spawnTs = (file: string, args: ReadonlyArray<string> = [], stdin = false): Child => {
  const child = spawn(
    process.execPath,
    ["--conditions=channel-layer-source", "--import", tsx, file, ...args],
    { cwd: root, stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"] }
  )
  let output = ""
  const listeners = new Set<() => void>()
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout!.on("data", collect)
  child.stderr!.on("data", collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      resolve({ code, signal })
      for (const listener of listeners) listener()
    })
  )
  const lines = () => output.split("\n")
  const events = () =>
    lines().flatMap((line) => {
      if (!line.startsWith("{")) return []
      try {
        return [parse(line)]
      } catch {
        return []
      }
    })
  const waitFor = (pattern: RegExp | ((event: any) => boolean), timeoutMs = 20_000) =>
    new Promise<any>((resolve, reject) => {
      const check = () => {
        const found = typeof pattern === "function"
          ? events().find(pattern)
          : lines().find((line) => pattern.test(line))
        if (found !== undefined) {
          clearTimeout(timer)
          listeners.delete(check)
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer)
          listeners.delete(check)
          reject(new Error(`${file} exited before ${String(pattern)} appeared; output:\n${output}`))
        }
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`timed out waiting for ${String(pattern)} from ${file}; output:\n${output}`))
      }, timeoutMs)
      listeners.add(check)
      check()
    })
  return {
    process: child,
    output: () => output,
    events,
    waitFor,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
  }
}

/** Starts the proxy program (src/bin/proxy.ts, in one process) and waits until it listens. */
export const startProxy = async (pull: string, pub: string, args: ReadonlyArray<string> = []): Promise<Child> => {
  const proxy = spawnTs("src/bin/proxy.ts", ["--pull", pull, "--pub", pub, "--settle", "200", ...args])
  await proxy.waitFor(/listening: PULL on/)
  return proxy
}

/** A channel-layer process driven by the test (test/fixtures/agent.ts). */
export interface Agent extends Child {
  readonly clientId: string
  readonly publishEndpoint: string | undefined
  /** Runs a command in the agent; resolves with `ok`, rejects with the error's tag. */
  readonly call: (command: Record<string, unknown>) => Promise<any>
  /** Sends a command without waiting for its answer; `result` resolves with the whole answer. */
  readonly start: (command: Record<string, unknown>) => { readonly result: Promise<any> }
  /** Closes the layer's scope and stdin; the process should then exit by itself. */
  readonly close: () => void
}

let ids = 0

/** Starts an agent process with a ZeroMQ layer and waits until the layer is built. */
export const startAgent = async (
  mode: "embedded" | "dedicated",
  options: Record<string, unknown>
): Promise<Agent> => {
  const child = spawnTs("test/fixtures/agent.ts", [JSON.stringify({ mode, options })], true)
  const ready = await child.waitFor((event) => event.event === "ready" || event.event === "failed")
  if (ready.event === "failed") throw new Error(`agent failed to start: ${ready.cause}`)
  const start = (command: Record<string, unknown>) => {
    const id = ++ids
    child.process.stdin!.write(stringify({ ...command, id }) + "\n")
    return { result: child.waitFor((event) => event.id === id, 60_000) }
  }
  return {
    ...child,
    clientId: ready.clientId,
    publishEndpoint: ready.publishEndpoint ?? undefined,
    start,
    call: async (command) => {
      const answer = await start(command).result
      if ("error" in answer) throw Object.assign(new Error(`${answer.error}: ${answer.message}`), { tag: answer.error })
      return answer.ok
    },
    close: () => {
      child.process.stdin!.write(stringify({ op: "close" }) + "\n")
      child.process.stdin!.end()
    }
  }
}
