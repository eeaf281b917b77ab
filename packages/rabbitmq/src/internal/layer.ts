/**
 * One RabbitMQ layer instance: core's `ChannelLayer` on the RabbitMQ backend, and the
 * `RabbitMQConnection` service on the same connection.
 */
import { ChannelLayer, type Errors } from "@channel-layer/core"
import type { Scope } from "effect"
import { Effect } from "effect"
import type { RabbitMQOptions, RabbitMQServices } from "../RabbitMQ.js"
import * as Backend from "./backend.js"
import type * as Connection from "./connection.js"
import * as ConnectionService from "./connectionService.js"
import * as Options from "./options.js"

/** Makes one layer instance in the current scope. `hooks` are test seams (see `Connection.Hooks`). */
export const make = (
  options: RabbitMQOptions,
  hooks: Connection.Hooks = {}
): Effect.Effect<RabbitMQServices, Errors.InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* Options.resolve(options)
    const made = yield* ChannelLayer.make({
      transport: "rabbitmq",
      expiry: resolved.expiry,
      localCapacity: resolved.localCapacity,
      maxMessageSize: resolved.maxMessageSize,
      backend: (context) => Backend.make(resolved, context, hooks)
    })
    return { channelLayer: made.service, connection: ConnectionService.make(made.backend.manager) }
  })
