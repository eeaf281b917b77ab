/**
 * scripts/prerequisites.sh, which `npm test` runs first: it creates a missing vhost with
 * rabbitmqctl, and fails within seconds with one line per missing piece naming the command that
 * provides it. Run against a throwaway vhost (CHANNEL_LAYER_TEST_VHOST), never the tests' `asgi`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Rabbitmqctl } from "../src/index.js"

const script = fileURLToPath(new URL("../../../scripts/prerequisites.sh", import.meta.url))

const run = (env: Record<string, string>) => {
  const { CI: _ci, CHANNEL_LAYER_INSTALL_PREREQUISITES: _install, ...inherited } = process.env
  const started = Date.now()
  const result = spawnSync("bash", [script], { env: { ...inherited, ...env }, encoding: "utf8", timeout: 60_000 })
  return { status: result.status, stderr: result.stderr, seconds: (Date.now() - started) / 1000 }
}

const vhostExists = (vhost: string) =>
  Effect.map(Rabbitmqctl.run(["-q", "list_vhosts", "name"]), (out) => out.split("\n").includes(vhost))

describe("scripts/prerequisites.sh", () => {
  it.scopedLive(
    "creates a missing vhost, and names each missing tool with the command that provides it",
    () =>
      Effect.gen(function*() {
        const vhost = `prerequisites-test-${Date.now().toString(36)}`
        yield* Effect.addFinalizer(() => Effect.ignore(Rabbitmqctl.run(["-q", "delete_vhost", vhost])))
        expect(yield* vhostExists(vhost)).toBe(false)
        const result = run({
          CHANNEL_LAYER_TEST_VHOST: vhost,
          CHROMIUM: "/nonexistent/chromium",
          PYTHON: "/nonexistent/python3",
          OPENSSL: "/nonexistent/openssl"
        })
        expect(result.status).toBe(1)
        expect(result.seconds).toBeLessThan(30)
        expect(yield* vhostExists(vhost)).toBe(true)
        const lines = result.stderr.trim().split("\n")
        expect(lines).toEqual([
          `prerequisites: created the vhost ${vhost} (guest has every permission on it)`,
          "prerequisites: no chromium at /nonexistent/chromium (the chat's browser test): apt-get install -y chromium, or set CHROMIUM",
          "prerequisites: /nonexistent/python3 cannot import aiormq and msgpack (the Django interop test): apt-get install -y python3-aiormq python3-msgpack, or set PYTHON",
          "prerequisites: no /nonexistent/openssl (the TLS tests): apt-get install -y openssl, or set OPENSSL",
          "prerequisites: /nonexistent/python3 cannot import channels_redis and cryptography (the Redis interop tests): apt-get install -y python3-channels-redis python3-cryptography, or set PYTHON",
          "prerequisites: as root, CHANNEL_LAYER_INSTALL_PREREQUISITES=1 npm test installs the Debian packages itself"
        ])
        // Once everything is there it says nothing and succeeds.
        const again = run({ CHANNEL_LAYER_TEST_VHOST: vhost })
        expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: "" })
      }),
    120_000
  )

  it("an unusable rabbitmqctl fails at once, saying what it is needed for", () => {
    const result = run({ RABBITMQCTL: "/nonexistent/rabbitmqctl", CHANNEL_LAYER_TEST_VHOST: "never-made" })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^prerequisites: cannot run \/nonexistent\/rabbitmqctl \(.*\): the tests need it/m)
  })
})
