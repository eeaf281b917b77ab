/**
 * The chat in a real browser: Debian's chromium driven by playwright-core (no browser download),
 * two pages in one room, a line typed in one appears in the other: on two chat server processes
 * sharing the room through RabbitMQ (127.0.0.1, vhost asgi), two sharing it through Redis
 * (127.0.0.1:6379 db 0, a key prefix of their own per run), and on one in-memory server; a page
 * that loses its server shows why and reconnects once it is back; lines are "mine" by websocket,
 * not by user name; nothing the page loads is missing (the icon). Saves a screenshot of each page
 * under examples/chat/test-results/.
 */
import { InMemory } from "@channel-layer/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { existsSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium, type Page } from "playwright-core"
import { freePort, spawnServer, startServer } from "./support.js"

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium"
const resultsDir = fileURLToPath(new URL("../test-results", import.meta.url))

/** A headless chromium with a fresh profile for the current scope. */
const browser = Effect.acquireRelease(
  Effect.promise(async () => {
    if (!existsSync(executablePath)) {
      throw new Error(`no chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM)`)
    }
    const userDataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "chat-chromium-"))
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      viewport: { width: 760, height: 560 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic"
      ]
    })
    return { context, userDataDir }
  }),
  ({ context, userDataDir }) =>
    Effect.promise(async () => {
      await context.close()
      await Fs.rm(userDataDir, { recursive: true, force: true })
    })
).pipe(Effect.map(({ context }) => context))

const join = (page: Page, server: string, name: string) =>
  Effect.promise(async () => {
    await page.goto(`http://${server}/?room=lobby&name=${name}`)
    await page.locator("#status.online").waitFor({ timeout: 10_000 })
  })

const say = (page: Page, text: string) =>
  Effect.promise(async () => {
    await page.fill("#say input[name=text]", text)
    await page.click("#say button")
  })

const sees = (page: Page, text: string) =>
  Effect.promise(() => page.locator("#log li.message", { hasText: text }).waitFor({ timeout: 10_000 }))

const screenshot = (page: Page, name: string) =>
  Effect.promise(async () => {
    await Fs.mkdir(resultsDir, { recursive: true })
    const path = Path.join(resultsDir, name)
    await page.screenshot({ path })
    return path
  })

/** Two pages on two chat server processes with this environment, one line each way. */
const acrossTwoServers = (name: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const one = yield* spawnServer({ ...env, SERVER_NAME: "server-one" })
    const two = yield* spawnServer({ ...env, SERVER_NAME: "server-two" })
    const context = yield* browser
    const alice = yield* Effect.promise(() => context.newPage())
    const bob = yield* Effect.promise(() => context.newPage())
    yield* join(alice, one.address, "alice")
    yield* join(bob, two.address, "bob")

    yield* say(alice, "Hello from Alice on server one")
    yield* sees(bob, "Hello from Alice on server one")
    yield* say(bob, "Hi Alice, Bob here on server two")
    yield* sees(alice, "Hi Alice, Bob here on server two")

    expect(yield* Effect.promise(() => alice.textContent("#status"))).toContain("via server-one")
    expect(yield* Effect.promise(() => bob.textContent("#status"))).toContain("via server-two")
    const crossed = yield* Effect.promise(() =>
      bob.locator("#log li.message", { hasText: "Hello from Alice" }).textContent()
    )
    expect(crossed).toContain("server-one")
    yield* screenshot(alice, `chat-${name}-alice.png`)
    const path = yield* screenshot(bob, `chat-${name}-bob.png`)
    expect(existsSync(path)).toBe(true)
  })

describe("chat in chromium", () => {
  it.scopedLive(
    "two pages on two chat servers joined through RabbitMQ: a line typed in one appears in the other",
    () => acrossTwoServers("rabbitmq", { CHANNEL_LAYER: "rabbitmq" }),
    90_000
  )

  it.scopedLive(
    "two pages on two chat servers joined through Redis: a line typed in one appears in the other",
    () =>
      acrossTwoServers("redis", {
        CHANNEL_LAYER: "redis",
        REDIS_URL: "redis://127.0.0.1:6379/0",
        REDIS_PREFIX: `chat-browser-${randomUUID()}`
      }),
    90_000
  )

  it.scopedLive("a line typed in one page appears in the other (one in-memory server)", () =>
    Effect.gen(function*() {
      const server = yield* startServer(InMemory.layer())
      const context = yield* browser
      const alice = yield* Effect.promise(() => context.newPage())
      const bob = yield* Effect.promise(() => context.newPage())
      yield* join(alice, server, "alice")
      yield* join(bob, server, "bob")

      yield* say(alice, "Hello from Alice's page")
      yield* sees(bob, "Hello from Alice's page")
      yield* say(bob, "Hi Alice, Bob here")
      yield* sees(alice, "Hi Alice, Bob here")

      const status = yield* Effect.promise(() => bob.textContent("#status"))
      expect(status).toContain(`via ${server}`)
      const path = yield* screenshot(bob, "chat-memory-bob.png")
      yield* screenshot(alice, "chat-memory-alice.png")
      expect(existsSync(path)).toBe(true)
    }), 60_000)

  it.scopedLive(
    "the page shows why it lost its server, and reconnects once the server is back",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const first = yield* spawnServer({ CHANNEL_LAYER: "memory", SERVER_NAME: "first" }, port)
        const context = yield* browser
        const page = yield* Effect.promise(() => context.newPage())
        yield* join(page, `127.0.0.1:${port}`, "alice")

        first.kill("SIGTERM")
        const code = yield* Effect.promise(() => first.exited).pipe(
          Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`no exit: ${first.output()}`) })
        )
        expect(code).toBe(0)
        yield* Effect.promise(() => page.locator("#status.offline").waitFor({ timeout: 10_000 }))
        yield* Effect.promise(() =>
          page.locator("#banner", { hasText: "the chat server cannot be reached" }).waitFor({ timeout: 10_000 })
        )
        expect(yield* Effect.promise(() => page.textContent("#banner"))).toMatch(/Reconnecting in \d+ s/)
        yield* screenshot(page, "chat-reconnecting.png")

        yield* spawnServer({ CHANNEL_LAYER: "memory", SERVER_NAME: "second" }, port)
        yield* Effect.promise(() => page.locator("#status.online").waitFor({ timeout: 20_000 }))
        expect(yield* Effect.promise(() => page.textContent("#status"))).toContain("via second")
        expect(yield* Effect.promise(() => page.isVisible("#banner"))).toBe(false)
        yield* Effect.promise(() =>
          page.locator("#log li.system", { hasText: "reconnected" }).waitFor({ timeout: 5_000 })
        )
        yield* say(page, "back again")
        yield* Effect.promise(() =>
          page.locator("#log li.message.mine", { hasText: "back again" }).waitFor({ timeout: 10_000 })
        )
      }),
    90_000
  )

  it.scopedLive(
    "two users with the same name: each page marks only its own lines as mine; no request fails",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer(InMemory.layer())
        const context = yield* browser
        const failed: Array<string> = []
        context.on("response", (response) => {
          if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`)
        })
        const first = yield* Effect.promise(() => context.newPage())
        const second = yield* Effect.promise(() => context.newPage())
        yield* join(first, server, "sam")
        yield* join(second, server, "sam")

        yield* say(first, "from the first sam")
        yield* sees(second, "from the first sam")
        yield* say(second, "from the second sam")
        yield* sees(first, "from the second sam")

        const mine = (page: Page, text: string) =>
          Effect.promise(() => page.locator("#log li.message.mine", { hasText: text }).count())
        expect(yield* mine(first, "from the first sam")).toBe(1)
        expect(yield* mine(first, "from the second sam")).toBe(0)
        expect(yield* mine(second, "from the second sam")).toBe(1)
        expect(yield* mine(second, "from the first sam")).toBe(0)
        yield* screenshot(first, "chat-same-name.png")
        expect(failed).toEqual([])
      }),
    60_000
  )
})
