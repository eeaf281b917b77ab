/**
 * The `RabbitMQConnection` service of a layer instance, on its connection manager.
 */
import { Errors } from "@channel-layer/core"
import { Effect } from "effect"
import type { RabbitMQConnectionService } from "../RabbitMQConnection.js"
import type { Manager } from "./connection.js"

/** The service over `manager`. */
export const make = (manager: Manager): RabbitMQConnectionService => ({
  connection: Effect.map(manager.awaitLive, (live) => live.model),
  confirmChannel: Effect.acquireRelease(
    Effect.flatMap(manager.awaitLive, (live) =>
      Effect.tryPromise({
        try: async () => {
          const channel = await live.model.createConfirmChannel()
          channel.on("error", () => undefined)
          return channel
        },
        catch: (cause) => new Errors.ConnectionClosed({ reason: "cannot open a channel", cause })
      })),
    (channel) => Effect.promise(() => channel.close().catch(() => undefined))
  ),
  queue: Effect.map(manager.awaitLive, (live) => live.queue),
  connections: manager.connections
})
