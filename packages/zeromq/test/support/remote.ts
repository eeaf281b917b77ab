import { ChannelLayer } from "@channel-layer/core"
import { Effect, Layer } from "effect"
import { expect } from "vitest"
import { type Agent, startAgent } from "./processes.js"

/**
 * A `ChannelLayer` whose instance lives in another process (test/fixtures/agent.ts), driven over
 * its stdin/stdout: the conformance suite's multi-instance cases then run across processes.
 * Errors come back as their tag and message.
 */
export const remoteLayer = (
  mode: "embedded" | "dedicated",
  options: Record<string, unknown>
): Layer.Layer<ChannelLayer.ChannelLayer> =>
  Layer.scoped(
    ChannelLayer.ChannelLayer,
    Effect.gen(function*() {
      const agent: Agent = yield* Effect.acquireRelease(
        Effect.promise(() => startAgent(mode, options)),
        (agent) =>
          Effect.promise(async () => {
            agent.close()
            expect(await agent.exited).toEqual({ code: 0, signal: null })
          })
      )
      const call = (command: Record<string, unknown>) =>
        Effect.async<any, any>((resume) => {
          agent.start(command).result.then((answer) =>
            resume(
              "error" in answer
                ? Effect.fail({ _tag: answer.error, message: answer.message })
                : Effect.succeed(answer.ok)
            )
          )
        })
      const service: ChannelLayer.ChannelLayerService = {
        newChannel: (prefix) => call({ op: "newChannel", prefix }),
        send: (channel, message) => call({ op: "send", channel, message }),
        receive: (channel) => call({ op: "receive", channel, timeoutMs: 60_000 }),
        groupAdd: (group, channel) => call({ op: "groupAdd", group, channel }),
        groupDiscard: (group, channel) => call({ op: "groupDiscard", group, channel }),
        groupSend: (group, message) => call({ op: "groupSend", group, message })
      }
      return service
    })
  )

const multiInstance = [
  "two instances reach each other's channels and groups",
  "an instance cannot receive on another instance's channel"
]

let currentTest: string | undefined
let instances = 0

/**
 * Whether the instance being made is the second one of a multi-instance conformance test: that
 * one runs in another process.
 */
export const secondOfMultiInstanceTest = (): boolean => {
  const name = expect.getState().currentTestName ?? ""
  if (name !== currentTest) {
    currentTest = name
    instances = 0
  }
  instances++
  return instances === 2 && multiInstance.some((test) => name.endsWith(test))
}
