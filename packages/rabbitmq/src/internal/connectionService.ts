/**
 * The `RabbitMQConnection` service of a layer instance, on its connection manager.
 */
import { Errors } from "@channel-layer/core"
import { Duration, Effect, Option, Stream, SubscriptionRef } from "effect"
import type { Health, RabbitMQConnectionService } from "../RabbitMQConnection.js"
import type { Manager } from "./connection.js"

/** Waits for the first health in `stops` (after starting to connect). */
const firstOf = (manager: Manager, stops: ReadonlyArray<Health["status"]>) =>
  Effect.suspend(() => {
    manager.demand()
    return manager.health.changes.pipe(
      Stream.filter((health) => stops.includes(health.status)),
      Stream.runHead,
      Effect.map(Option.getOrThrow)
    )
  })

const awaitReady = (manager: Manager): RabbitMQConnectionService["awaitReady"] =>
  Effect.flatMap(
    firstOf(manager, ["connected", "closed"]),
    (health): Effect.Effect<void, Errors.LayerClosed> =>
      health.status === "closed" ? Effect.fail(new Errors.LayerClosed()) : Effect.void
  )

const refused = (health: Health) =>
  new Errors.ConnectionClosed({
    reason: `RabbitMQ refused the connection, and waiting will not change that: ${health.lastError}`
  })

const awaitReadyWithin = (manager: Manager): RabbitMQConnectionService["awaitReadyWithin"] => (timeout) =>
  firstOf(manager, ["connected", "failed", "closed"]).pipe(
    Effect.timeout(timeout),
    Effect.catchTag(
      "TimeoutException",
      () =>
        Effect.flatMap(SubscriptionRef.get(manager.health), ({ lastError }) =>
          Effect.fail(
            new Errors.ConnectionClosed({
              reason: `no connection to RabbitMQ within ${Duration.format(timeout)}` +
                (lastError === undefined ? "" : `; last error: ${lastError}`)
            })
          ))
    ),
    Effect.flatMap((health): Effect.Effect<void, Errors.ConnectionClosed | Errors.LayerClosed> =>
      health.status === "closed"
        ? Effect.fail(new Errors.LayerClosed())
        : health.status === "failed"
        ? Effect.fail(refused(health))
        : Effect.void
    )
  )

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
  connections: manager.connections,
  health: SubscriptionRef.get(manager.health),
  healthChanges: manager.health.changes,
  awaitReady: awaitReady(manager),
  awaitReadyWithin: awaitReadyWithin(manager)
})
