/**
 * Running the scripts of this folder with Debian's Python (/usr/bin/python3, which has the apt
 * packages python3-channels-redis, python3-cryptography and python3-msgpack; a pyenv or venv
 * python3 on the PATH usually has not).
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export const PYTHON = process.env.CHANNEL_LAYER_PYTHON ?? "/usr/bin/python3"

export const APT_HINT = "apt-get install -y python3-channels-redis python3-cryptography python3-msgpack"

/** The path of a script in this folder. */
export const script = (name: string): string => fileURLToPath(new URL(name, import.meta.url))

/**
 * `undefined` when PYTHON imports every module, else why not (for a skip message that says what to
 * install).
 */
export const missingPython = (modules: ReadonlyArray<string>): string | undefined => {
  const result = spawnSync(PYTHON, ["-c", `import ${modules.join(", ")}`], { encoding: "utf8" })
  if (result.error !== undefined) return `${PYTHON} does not run (${result.error.message}); ${APT_HINT}`
  if (result.status !== 0) {
    return `${PYTHON} cannot import ${modules.join(", ")} (${result.stderr.trim().split("\n").pop()}); ${APT_HINT}`
  }
  return undefined
}

/** Runs a script of this folder with a JSON request on stdin and parses its JSON answer. */
export const runJson = <A>(name: string, request: unknown, args: ReadonlyArray<string> = []): A => {
  const result = spawnSync(PYTHON, [script(name), ...args], {
    input: JSON.stringify(request),
    encoding: "utf8",
    timeout: 60_000
  })
  if (result.error !== undefined) throw result.error
  if (result.status !== 0) throw new Error(`${name} exited with ${result.status}: ${result.stderr}`)
  return JSON.parse(result.stdout) as A
}

/** What a describe title says when it is skipped for want of Python modules: nothing when it is not. */
export const skipNote = (missing: string | undefined): string => missing === undefined ? "" : ` (SKIPPED: ${missing})`

/** The Redis the Python scripts and peer tests use. */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0"

/** `undefined` when PYTHON's redis client reaches REDIS_URL, else why not. */
export const missingRedis = (url: string = REDIS_URL): string | undefined => {
  const result = spawnSync(PYTHON, ["-c", "import sys, redis; redis.Redis.from_url(sys.argv[1]).ping()", url], {
    encoding: "utf8",
    timeout: 10_000
  })
  if (result.error !== undefined) return `${PYTHON} does not run (${result.error.message}); ${APT_HINT}`
  if (result.status !== 0) return `no Redis at ${url} (${result.stderr.trim().split("\n").pop()}); set REDIS_URL`
  return undefined
}
