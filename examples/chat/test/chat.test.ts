import { InMemory } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { connect, freePort, said, startServer } from "./support.js"

const exampleDir = fileURLToPath(new URL("..", import.meta.url))
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url))

describe("chat on the in-memory layer", () => {
  it.scopedLive("two clients in one room exchange messages; another room hears nothing", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const alice = yield* connect(server, "lobby", "alice")
      const bob = yield* connect(server, "lobby", "bob")
      const carol = yield* connect(server, "kitchen", "carol")

      yield* alice.waitFor((frame) => frame.type === "chat.join" && frame.user === "bob")
      yield* alice.say("hello bob")
      const heard = yield* bob.waitFor(said("hello bob"))
      expect(heard).toMatchObject({ type: "chat.message", room: "lobby", user: "alice", server })
      yield* alice.waitFor(said("hello bob"))

      yield* bob.say("hi alice")
      yield* alice.waitFor(said("hi alice"))

      yield* carol.say("anyone in the kitchen?")
      yield* carol.waitFor(said("anyone in the kitchen?"))
      expect(alice.frames.some((frame) => frame.user === "carol")).toBe(false)
      expect(bob.frames.some((frame) => frame.user === "carol")).toBe(false)
    }))

  it.scopedLive("a client that leaves is announced, and a bad frame gets an error back", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const alice = yield* connect(server, "lobby", "alice")
      yield* Effect.scoped(Effect.gen(function*() {
        const bob = yield* connect(server, "lobby", "bob")
        yield* bob.say("") // an empty line is refused
        yield* bob.waitFor((frame) => frame.type === "chat.error")
      }))
      yield* alice.waitFor((frame) => frame.type === "chat.leave" && frame.user === "bob")
    }))

  it.scopedLive("a bad room name is refused with 400", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const response = yield* Effect.promise(() => fetch(`http://${server}/ws?room=no%20spaces&name=x`))
      expect(response.status).toBe(400)
      const page = yield* Effect.promise(() => fetch(`http://${server}/`))
      expect(page.status).toBe(200)
      expect(yield* Effect.promise(() => page.text())).toContain("channel-layer chat")
    }))
})

describe("npm start (src/main.ts)", () => {
  it.scopedLive("serves the chat and shuts down gracefully on SIGTERM: sockets closed, exit code 0", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const child = spawn(tsx, ["--conditions=channel-layer-source", "src/main.ts"], {
        cwd: exampleDir,
        env: { ...process.env, PORT: String(port), CHANNEL_LAYER: "memory" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL")))
      let output = ""
      child.stdout.on("data", (chunk) => output += String(chunk))
      child.stderr.on("data", (chunk) => output += String(chunk))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      yield* Effect.promise(async () => {
        while (!output.includes("Listening on")) await new Promise((resolve) => setTimeout(resolve, 50))
      }).pipe(Effect.timeout("20 seconds"))
      expect(output).toContain("channel layer: memory")
      expect(output).toContain(`Listening on http://127.0.0.1:${port}`)

      const alice = yield* connect(`127.0.0.1:${port}`, "lobby", "alice")
      yield* alice.say("still here")
      yield* alice.waitFor(said("still here"))

      child.kill("SIGTERM")
      const code = yield* Effect.promise(() => exited).pipe(Effect.timeout("10 seconds"))
      expect(code).toBe(0)
      yield* Effect.promise(() => alice.closed).pipe(Effect.timeout("5 seconds"))
      expect(output).toContain("left")
      expect(output).toContain("shut down")
    }))
})
