/**
 * What each command does, as Effects on the `ChannelLayer` service. What a command prints goes to
 * standard output through `Console.log`; what it tells people goes to standard error through
 * `Console.error`.
 *
 * @since 0.1.0
 */
import { ChannelLayer, type Message } from "@channel-layer/core"
import { Console, Duration, Effect, Option, Schema, Stream } from "effect"
import * as Json from "./Json.js"
import { Stdin } from "./Stdio.js"

const readMessage = (text: string) =>
  Effect.gen(function*() {
    const source = text === "-" ? yield* (yield* Stdin).readAll : text
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
    yield* Console.error(`sent ${message.type} to ${channel}`)
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
    yield* Console.error(`sent ${message.type} to group ${group}`)
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
  readonly prefix: Option.Option<string>
  readonly count: Option.Option<number>
  readonly timeout: Option.Option<Duration.Duration>
}) =>
  Effect.gen(function*() {
    const layer = yield* ChannelLayer.ChannelLayer
    const channel = yield* Option.match(options.prefix, {
      onNone: () => layer.newChannel(),
      onSome: (prefix) => layer.newChannel(prefix)
    })
    for (const group of options.groups) {
      yield* Effect.acquireRelease(layer.groupAdd(group, channel), () =>
        Effect.ignore(layer.groupDiscard(group, channel)))
    }
    const groups = options.groups.length === 0 ? "" : ` (groups: ${options.groups.join(", ")})`
    yield* Console.error(`listening on ${channel}${groups}`)
    const messages = ChannelLayer.messages(channel)
    const received = Option.match(options.count, {
      onNone: () =>
        messages,
      onSome: (n) => Stream.take(messages, n)
    })
      .pipe(Stream.runForEach((message) => Console.log(Json.formatMessage(message))))
    if (Option.isNone(options.timeout)) return yield* received
    const timeout = options.timeout.value
    const done = yield* Effect.timeout(received, timeout).pipe(Effect.option)
    if (Option.isNone(done)) yield* Console.error(`no more messages after ${Duration.format(timeout)}`)
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
  const channel = yield* layer.newChannel("selftest")
  const group = `selftest.${channel.split("!")[1] ?? "group"}`
  yield* Console.error(`channel ${channel}, group ${group}`)
  yield* layer.send(channel, { type: "selftest.direct", bytes: new Uint8Array([1, 2, 3]) })
  yield* layer.receive(channel).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new SelfTestFailed({ reason: "no direct message" })
    }),
    Effect.flatMap((message) => expectType(message, "selftest.direct"))
  )
  yield* Console.error("direct message: ok")
  yield* Effect.acquireRelease(layer.groupAdd(group, channel), () => Effect.ignore(layer.groupDiscard(group, channel)))
  yield* layer.groupSend(group, { type: "selftest.group", n: 1 })
  yield* layer.receive(channel).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new SelfTestFailed({ reason: "no group message" }) }),
    Effect.flatMap((message) => expectType(message, "selftest.group"))
  )
  yield* Console.error("group message: ok")
  yield* Console.log("self-test passed")
}).pipe(Effect.scoped)
