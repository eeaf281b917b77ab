#!/usr/bin/env node
/* global process, URL */
// The `channel-layer-zmq-proxy` command. A built package runs dist/bin/proxy.js; in the repository
// (no build) it runs the TypeScript sources through tsx with the channel-layer-source export
// condition, in a child process that stops when this launcher goes away (an IPC channel).
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const built = fileURLToPath(new URL("../dist/bin/proxy.js", import.meta.url))
if (existsSync(built)) {
  await import(built)
} else {
  const source = fileURLToPath(new URL("../src/bin/proxy.ts", import.meta.url))
  const tsx = import.meta.resolve("tsx")
  const child = spawn(
    process.execPath,
    ["--conditions=channel-layer-source", "--import", tsx, source, ...process.argv.slice(2)],
    { stdio: ["inherit", "inherit", "inherit", "ipc"] }
  )
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)))
}
