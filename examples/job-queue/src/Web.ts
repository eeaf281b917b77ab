/**
 * The web side: `POST /jobs` with `{"text": "..."}` makes a channel for this request, publishes
 * the job (naming the channel) to the durable queue, and waits on the channel for the worker's
 * answer, which it returns as JSON. No polling, no result store: the channel layer carries the
 * answer back to this process.
 */
import { ChannelLayer } from "@channel-layer/core"
import type { RabbitMQConnection } from "@channel-layer/rabbitmq"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Data, Duration, Effect, Either, type Layer, ParseResult, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as Jobs from "./Jobs.js"

const MAX_TEXT = 100_000

const JobRequest = Schema.Struct({
  text: Schema.String.annotations({ message: () => "must be a string" }).pipe(
    Schema.maxLength(MAX_TEXT, { message: () => `must be at most ${MAX_TEXT} characters` })
  )
})

/** A request the handler cannot take, with a one-line reason naming the field. */
class BadRequest extends Data.TaggedError("BadRequest")<{ readonly reason: string }> {}

const USAGE = "send {\"text\": \"...\"} as JSON"

/** The body as a `JobRequest`, or a one-line reason: not JSON, not an object, a field missing or of the wrong type. */
export const parseJobRequest = (body: string): Either.Either<typeof JobRequest.Type, BadRequest> => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return Either.left(new BadRequest({ reason: `the body is not JSON: ${USAGE}` }))
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(new BadRequest({ reason: `the body must be a JSON object: ${USAGE}` }))
  }
  return Schema.decodeUnknownEither(JobRequest)(json).pipe(
    Either.mapLeft((error) => {
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      const field = issue === undefined || issue.path.length === 0 ? "the body" : issue.path.join(".")
      const problem = issue === undefined ? "is invalid" : issue._tag === "Missing" ? "is missing" : issue.message
      return new BadRequest({ reason: `${field} ${problem}: ${USAGE}` })
    })
  )
}

const decodeResult = Schema.decodeUnknown(Jobs.JobResult)

/** How long a request waits for a worker: `JOB_TIMEOUT`, default 30 seconds. */
const jobTimeout = Config.duration("JOB_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))

const submit = Effect.gen(function*() {
  const body = yield* Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.text)
  const request = yield* parseJobRequest(body)
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
    BadRequest: (error) => HttpServerResponse.json({ error: error.reason }, { status: 400 }),
    ParseError: (error) => HttpServerResponse.json({ error: error.message }, { status: 502 }),
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
