/**
 * What each command does, as Effects on the `ChannelLayer` service. Output goes through the
 * `Output` service, so tests can capture it.
 *
 * @since 0.1.0
 */
import { ChannelLayer, type Message } from "@channel-layer/core"
import { Context, Duration, Effect, Layer, Option, Schema, Stream } from "effect"
import type { Command } from "./Args.js"
import * as Json from "./Json.js"

/**
 * Where the CLI writes: `out` is the program's output (messages received), `err` is for people
 * (what it is doing, what went wrong).
 *
 * @since 0.1.0
 * @category services
 */
export class Output extends Context.Tag("@channel-layer/cli/Output")<Output, {
  readonly out: (line: string) => Effect.Effect<void>
  readonly err: (line: string) => Effect.Effect<void>
  /** All of standard input, for a MESSAGE given as `-`. */
  readonly stdin: Effect.Effect<string>
}>() {}

/**
 * `Output` on the process's standard streams.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerProcessOutput: Layer.Layer<Output> = Layer.succeed(Output, {
  out: (line) => Effect.sync(() => process.stdout.write(line + "\n")),
  err: (line) => Effect.sync(() => process.stderr.write(line + "\n")),
  stdin: Effect.promise(async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  })
})

const readMessage = (text: string) =>
  Effect.gen(function*() {
    const output = yield* Output
    const source = text === "-" ? yield* output.stdin : text
    return yield* Json.parseMessage(source.trim())
  })

/**
 * `send CHANNEL MESSAGE`.
 *
 * @since 0.1.0
 * @category commands
 */
export const send = (channel: string, text: string) =>
  Effect.gen(function*() {
    const message = yield* readMessage(text)
    const layer = yield* ChannelLayer.ChannelLayer
    yield* layer.send(channel, message)
    yield* Effect.flatMap(Output, (output) => output.err(`sent ${message.type} to ${channel}`))
  })

/**
 * `group-send GROUP MESSAGE`.
 *
 * @since 0.1.0
 * @category commands
 */
export const groupSend = (group: string, text: string) =>
  Effect.gen(function*() {
    const message = yield* readMessage(text)
    const layer = yield* ChannelLayer.ChannelLayer
    yield* layer.groupSend(group, message)
    yield* Effect.flatMap(Output, (output) => output.err(`sent ${message.type} to group ${group}`))
  })

/**
 * `listen`: a new channel in the given groups, each message printed as one JSON line, until
 * `count` messages, the `timeout`, or interruption. Leaves the groups on the way out.
 *
 * @since 0.1.0
 * @category commands
 */
export const listen = (options: {
  readonly groups: ReadonlyArray<string>
  readonly prefix: string | undefined
  readonly count: number | undefined
  readonly timeout: Duration.Duration | undefined
}) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const output = yield* Output
    const channel = yield* (options.prefix === undefined ? layer.newChannel() : layer.newChannel(options.prefix))
    for (const group of options.groups) {
      yield* Effect.acquireRelease(layer.groupAdd(group, channel), () =>
        Effect.ignore(layer.groupDiscard(group, channel)))
    }
    const groups = options.groups.length === 0 ? "" : ` (groups: ${options.groups.join(", ")})`
    yield* output.err(`listening on ${channel}${groups}`)
    const received = ChannelLayer.messages(channel).pipe(
      options.count === undefined
        ? (stream) =>
          stream
        : Stream.take(options.count),
      Stream.runForEach((message) => output.out(Json.formatMessage(message)))
    )
    if (options.timeout === undefined) return yield* received
    const done = yield* Effect.timeout(received, options.timeout).pipe(Effect.option)
    if (Option.isNone(done)) yield* output.err(`no more messages after ${Duration.format(options.timeout)}`)
  }).pipe(Effect.scoped)

/**
 * A self-test failed: the message that came back is not the one sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class SelfTestFailed extends Schema.TaggedError<SelfTestFailed>()("SelfTestFailed", {
  reason: Schema.String
}) {
  override get message(): string {
    return `self-test failed: ${this.reason}`
  }
}

const expectType = (message: Message.Message, type: string) =>
  message.type === type
    ? Effect.void
    : Effect.fail(new SelfTestFailed({ reason: `expected a ${type} message, got ${message.type}` }))

/**
 * `self-test`: a direct and a group message to a channel of its own, both received.
 *
 * @since 0.1.0
 * @category commands
 */
export const selfTest = Effect.gen(function*() {
  const layer = yield* ChannelLayer.ChannelLayer
  const output = yield* Output
  const channel = yield* layer.newChannel("selftest")
  const group = `selftest.${channel.split("!")[1] ?? "group"}`
  yield* output.err(`channel ${channel}, group ${group}`)
  yield* layer.send(channel, { type: "selftest.direct", bytes: new Uint8Array([1, 2, 3]) })
  yield* layer.receive(channel).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new SelfTestFailed({ reason: "no direct message" })
    }),
    Effect.flatMap((message) => expectType(message, "selftest.direct"))
  )
  yield* output.err("direct message: ok")
  yield* Effect.acquireRelease(layer.groupAdd(group, channel), () => Effect.ignore(layer.groupDiscard(group, channel)))
  yield* layer.groupSend(group, { type: "selftest.group", n: 1 })
  yield* layer.receive(channel).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new SelfTestFailed({ reason: "no group message" }) }),
    Effect.flatMap((message) => expectType(message, "selftest.group"))
  )
  yield* output.err("group message: ok")
  yield* output.out("self-test passed")
}).pipe(Effect.scoped)

/**
 * Runs a parsed command (other than help).
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (command: Exclude<Command, { _tag: "Help" }>) => {
  switch (command._tag) {
    case "Send":
      return send(command.channel, command.message)
    case "GroupSend":
      return groupSend(command.group, command.message)
    case "Listen":
      return listen(command)
    case "SelfTest":
      return selfTest
  }
}
