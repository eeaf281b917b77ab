/**
 * The web side: `POST /jobs` with `{"text": "..."}` makes a channel for this request, publishes
 * the job (naming the channel) to the durable queue, and waits on the channel for the worker's
 * answer, which it returns as JSON. No polling, no result store: the channel layer carries the
 * answer back to this process.
 */
import { ChannelLayer } from "@channel-layer/core"
import type { RabbitMQConnection } from "@channel-layer/rabbitmq"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Duration, Effect, type Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as Jobs from "./Jobs.js"

const JobRequest = Schema.Struct({ text: Schema.String.pipe(Schema.maxLength(100_000)) })

const decodeResult = Schema.decodeUnknown(Jobs.JobResult)

/** How long a request waits for a worker: `JOB_TIMEOUT`, default 30 seconds. */
const jobTimeout = Config.duration("JOB_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))

const submit = Effect.gen(function*() {
  const request = yield* HttpServerRequest.schemaBodyJson(JobRequest)
  const layer = yield* ChannelLayer.ChannelLayer
  const timeout = yield* jobTimeout
  const id = randomUUID()
  const replyChannel = yield* layer.newChannel("jobs")
  yield* Jobs.publish({ id, text: request.text, replyChannel })
  yield* Effect.logInfo("job queued").pipe(Effect.annotateLogs({ id, replyChannel }))
  const answer = yield* layer.receive(replyChannel).pipe(Effect.flatMap(decodeResult), Effect.timeout(timeout))
  return yield* HttpServerResponse.json({ id, result: answer })
}).pipe(
  Effect.catchTags({
    ParseError: (error) => HttpServerResponse.json({ error: error.message }, { status: 400 }),
    RequestError: (error) => HttpServerResponse.json({ error: error.message }, { status: 400 }),
    TimeoutException: () => HttpServerResponse.json({ error: "no worker answered in time" }, { status: 504 })
  }),
  Effect.catchAll((error) =>
    Effect.zipRight(
      Effect.logWarning("job failed", error),
      HttpServerResponse.json({ error: error instanceof Error ? error.message : String(error) }, { status: 503 })
    )
  )
)

/** The routes: `POST /jobs`, and `GET /` saying how to use it. */
const router = HttpRouter.empty.pipe(
  HttpRouter.post("/jobs", submit),
  HttpRouter.get(
    "/",
    Effect.succeed(HttpServerResponse.text("POST /jobs with {\"text\": \"...\"}; the answer comes from a worker\n"))
  )
)

/** Serves the routes on the given `HttpServer`, with the given `ChannelLayer` and `RabbitMQConnection`. */
export const layer: Layer.Layer<
  never,
  never,
  HttpServer.HttpServer | ChannelLayer.ChannelLayer | RabbitMQConnection.RabbitMQConnection
> = HttpServer.serve(router).pipe(HttpServer.withLogAddress)
