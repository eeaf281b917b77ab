import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const tsx = createRequire(import.meta.url).resolve("tsx")
const root = fileURLToPath(new URL("../..", import.meta.url))

/** A child process running TypeScript from this package, with its output collected. */
export interface Child {
  readonly process: ChildProcess
  /** Everything written to stdout and stderr so far. */
  readonly output: () => string
  /** Parsed JSON lines written to stdout so far (other lines are skipped). */
  readonly events: () => Array<any>
  /** Resolves once an output line matches. */
  readonly waitFor: (pattern: RegExp | ((event: any) => boolean), timeoutMs?: number) => Promise<string>
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly kill: (signal?: NodeJS.Signals) => void
}

/** Runs a TypeScript file of this package with tsx and the channel-layer-source condition. */
export const spawnTs = (file: string, args: ReadonlyArray<string> = []): Child => {
  const child = spawn(
    process.execPath,
    ["--conditions=channel-layer-source", "--import", tsx, file, ...args],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
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
        return [JSON.parse(line)]
      } catch {
        return []
      }
    })
  const waitFor = (pattern: RegExp | ((event: any) => boolean), timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = typeof pattern === "function"
          ? events().find(pattern)
          : lines().find((line) => pattern.test(line))
        if (found !== undefined) {
          clearTimeout(timer)
          listeners.delete(check)
          resolve(typeof found === "string" ? found : JSON.stringify(found))
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

/** Runs a fixture script (test/fixtures/<name>.ts) with a JSON argument. */
export const spawnFixture = (name: string, input: unknown): Child =>
  spawnTs(`test/fixtures/${name}.ts`, [JSON.stringify(input)])
