#!/usr/bin/env node
/* global URL */
// The `channel-layer-zmq-proxy` command. Where tsx is installed (a checkout of the repository after
// npm ci) it runs the TypeScript sources through tsx's loader, with the channel-layer-source export
// condition, so that a dist/ left over from an earlier build is never run by mistake. Installed as a
// package (or without tsx) it runs the built dist/bin/proxy.js. Either way in this process: SIGINT
// and SIGTERM reach the proxy itself, once, and it closes its sockets before it exits.
import { existsSync } from "node:fs"
import { register } from "node:module"
import { fileURLToPath } from "node:url"

const resolveTsx = () => {
  try {
    return import.meta.resolve("tsx/esm/api")
  } catch {
    return undefined
  }
}

// What `node --conditions=channel-layer-source` does, for the imports that follow.
const sourceCondition = `export const resolve = (specifier, context, next) =>
  next(specifier, { ...context, conditions: [...context.conditions, "channel-layer-source"] })`

const source = new URL("../src/bin/proxy.ts", import.meta.url)
// Installed from the registry (under node_modules, symlinks resolved) it always runs dist/, even
// when the application has tsx of its own.
const installed = fileURLToPath(import.meta.url).split(/[\\/]/).includes("node_modules")
const tsx = !installed && existsSync(fileURLToPath(source)) ? resolveTsx() : undefined
if (tsx === undefined) {
  await import(new URL("../dist/bin/proxy.js", import.meta.url).href)
} else {
  ;(await import(tsx)).register()
  register(`data:text/javascript,${encodeURIComponent(sourceCondition)}`)
  await import(source.href)
}
