#!/usr/bin/env node
/* global process, URL */
// The `channel-layer` command. Where tsx is installed (a checkout of the repository after npm ci)
// it runs the TypeScript sources through tsx with the channel-layer-source export condition, so
// that a dist/ left over from an earlier build is never run by mistake. Without tsx (the
// published package) it runs the built dist/bin.js.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const resolveTsx = () => {
  try {
    return import.meta.resolve("tsx")
  } catch {
    return undefined
  }
}

const source = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const built = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const tsx = existsSync(source) ? resolveTsx() : undefined
if (tsx === undefined) {
  await import(built)
} else {
  const child = spawn(
    process.execPath,
    ["--conditions=channel-layer-source", "--import", tsx, source, ...process.argv.slice(2)],
    { stdio: "inherit" }
  )
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)))
}
