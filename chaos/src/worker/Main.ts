/**
 * What both worker programs share: the configuration from the command line, the record file,
 * the IPC channel, the layer, and the end of the process (SIGTERM from the orchestrator, or the
 * orchestrator gone).
 */
import type { ChannelLayer } from "@channel-layer/core"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import { WorkerConfig } from "../Protocol.js"
import { openWriter, type RecordWriter } from "../Records.js"
import * as Parent from "./Parent.js"
import * as TransportLayer from "./TransportLayer.js"

export interface WorkerContext {
  readonly config: WorkerConfig
  readonly parent: Parent.Parent
  readonly records: RecordWriter
}

export const runWorker = <E>(
  body: (context: WorkerContext) => Effect.Effect<void, E, ChannelLayer.ChannelLayer>
): void => {
  const config = Schema.decodeUnknownSync(Schema.parseJson(WorkerConfig))(process.argv[2])
  const program = Effect.gen(function*() {
    const parent = yield* Parent.connect
    const records = yield* openWriter(config.recordFile)
    yield* Effect.raceFirst(body({ config, parent, records }), parent.gone)
  }).pipe(
    Effect.scoped,
    Effect.provide(TransportLayer.layer(config.transport)),
    Effect.annotateLogs({ worker: config.name })
  )
  NodeRuntime.runMain(program)
}
