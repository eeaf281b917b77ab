/**
 * The job queue end to end against the RabbitMQ on 127.0.0.1 (vhost asgi): the web side in this
 * process, the worker as a separate process, a durable queue of the test's own.
 */
import { RabbitMQ, RabbitMQConnection } from "@channel-layer/rabbitmq"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Fiber, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import * as Web from "../src/Web.js"

const exampleDir = fileURLToPath(new URL("..", import.meta.url))
const queue = `jobs-test-${randomBytes(4).toString("hex")}`

/** The web server in this process on a free port; returns its base URL. */
const startWeb = Effect.gen(function*() {
  const context = yield* Layer.build(
    Web.layer.pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })),
      Layer.provideMerge(RabbitMQ.layer())
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  return { url: `http://127.0.0.1:${address.port}`, context }
})

/** A worker process for the current scope; resolves once it consumes. */
const startWorker = Effect.acquireRelease(
  Effect.async<{ readonly kill: () => void; readonly output: () => string }>((resume) => {
    const child = spawn(process.execPath, [
      "--conditions=channel-layer-source",
      "--import",
      "tsx",
      "src/worker-main.ts"
    ], {
      cwd: exampleDir,
      env: { ...process.env, JOBS_QUEUE: queue },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const handle = { kill: () => void child.kill("SIGTERM"), output: () => output }
    const onData = (chunk: Buffer) => {
      output += String(chunk)
      if (output.includes(`consuming ${queue}`)) resume(Effect.succeed(handle))
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => resume(Effect.dieMessage(`worker exited with ${code}: ${output}`)))
  }).pipe(Effect.timeout("30 seconds"), Effect.orDie),
  (worker) => Effect.sync(worker.kill)
)

const post = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/jobs`, { method: "POST", body: JSON.stringify(body) })
    return { status: response.status, body: await response.json() as Record<string, any> }
  })

describe("job queue on RabbitMQ", () => {
  it.scopedLive(
    "a job posted before any worker runs waits in the durable queue; a worker answers the request",
    () =>
      Effect.gen(function*() {
        const web = yield* startWeb.pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ JOBS_QUEUE: queue })))
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            const rabbit = Context.get(web.context, RabbitMQConnection.RabbitMQConnection)
            const channel = yield* rabbit.confirmChannel
            yield* Effect.promise(() => channel.deleteQueue(queue))
          }).pipe(Effect.scoped, Effect.ignore)
        )

        const text = "the quick brown fox jumps over the lazy dog"
        const pending = yield* Effect.fork(post(web.url, { text }))
        yield* Effect.sleep("500 millis") // the job is in the queue, nobody consumes it yet
        expect(pending.unsafePoll()).toBeNull()

        const worker = yield* startWorker
        const first = yield* Fiber.join(pending)
        expect(first.status).toBe(200)
        expect(first.body.result).toMatchObject({
          type: "job.result",
          id: first.body.id,
          words: 9,
          characters: text.length,
          sha256: createHash("sha256").update(text).digest("hex")
        })

        const second = yield* post(web.url, { text: "one more" })
        expect(second.body.result).toMatchObject({ words: 2, id: second.body.id })
        expect(worker.output()).toContain("job done")

        const bad = yield* post(web.url, { nope: true })
        expect(bad.status).toBe(400)
      }),
    90_000
  )
})

describe("job queue: bad input", () => {
  const postRaw = (url: string, body: string) =>
    Effect.promise(async () => {
      const response = await fetch(`${url}/jobs`, { method: "POST", body })
      return { status: response.status, error: (await response.json() as { error: string }).error }
    })

  it.scopedLive(
    "answers 400 with one line naming the field: not JSON, not an object, missing, wrong type, too long",
    () =>
      Effect.gen(function*() {
        const web = yield* startWeb.pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ JOBS_QUEUE: queue })))
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["text=hello", "the body is not JSON: send {\"text\": \"...\"} as JSON"],
          ["", "the body is not JSON: send {\"text\": \"...\"} as JSON"],
          ["[\"hello\"]", "the body must be a JSON object: send {\"text\": \"...\"} as JSON"],
          ["{}", "text is missing: send {\"text\": \"...\"} as JSON"],
          ["{\"nope\": true}", "text is missing: send {\"text\": \"...\"} as JSON"],
          ["{\"text\": 42}", "text must be a string: send {\"text\": \"...\"} as JSON"],
          [
            JSON.stringify({ text: "x".repeat(100_001) }),
            "text must be at most 100000 characters: send {\"text\": \"...\"} as JSON"
          ]
        ]
        for (const [body, reason] of cases) {
          const answer = yield* postRaw(web.url, body)
          expect({ body: body.slice(0, 20), ...answer }).toEqual({
            body: body.slice(0, 20),
            status: 400,
            error: reason
          })
          expect(answer.error).not.toContain("\n")
        }
      }),
    30_000
  )
})

describe("job queue: a broker that refuses it", () => {
  for (const [program, who] of [["src/web-main.ts", "web server"], ["src/worker-main.ts", "worker"]] as const) {
    it(`the ${who} exits 1 with one line naming the missing vhost and the fix`, () => {
      const result = spawnSync(process.execPath, ["--conditions=channel-layer-source", "--import", "tsx", program], {
        cwd: exampleDir,
        env: { ...process.env, AMQP_URL: "amqp://guest:guest@127.0.0.1:5672/no-such-vhost", PORT: "0" },
        encoding: "utf8",
        timeout: 60_000
      })
      const output = `${result.stdout}${result.stderr}`
      expect(result.status, output).toBe(1)
      const line = output.split("\n").find((l) => l.includes(`the job ${who} cannot start`))
      expect(line).toContain("the broker refused to open the virtual host no-such-vhost")
      expect(line).toContain("rabbitmqctl add_vhost no-such-vhost")
    }, 60_000)
  }
})
