/**
 * The Redis servers of a layer (channels_redis's `hosts`) and which one each operation uses, as
 * channels_redis 4.x shards (see `Sharding`): one command connection per host; a group's sorted
 * set on the hash of the group name; a member's messages (group sends, and direct sends to a
 * process-specific channel) on the hash of the channel's non-local part, where its receiver reads;
 * a send to a normal channel on the next host in turn (round robin, per layer).
 *
 * Reading is wider than writing, so that nothing a Python process writes is missed:
 * - a process-specific key of this instance is read on **every** host, because channels_redis's
 *   `send` writes to the hash of the full channel name (django/channels#1492), which is any host;
 * - a `receive` on a normal channel pops on every host at once and takes the first message (the
 *   others' pops are unblocked, and what they took meanwhile put back), where channels_redis
 *   blocks on one host chosen in turn and leaves messages on the others waiting.
 * With one host all of this is host 0.
 */
import type { MetricLabel, Scope } from "effect"
import { Effect } from "effect"
import * as Connection from "./connection.js"
import type { Endpoint, Resolved } from "./options.js"
import { consistentHash, groupShardIndex, nonLocalName, receiveShardIndex } from "./Sharding.js"

/** The hosts of a layer; see the module documentation. */
export interface Hosts {
  readonly endpoints: ReadonlyArray<Endpoint>
  /** One command connection per host, in the order of `hosts`. */
  readonly commands: ReadonlyArray<Connection.Connection>
  /** Every host index, `0 .. hosts - 1`: where this instance's keys and normal channels are read. */
  readonly all: ReadonlyArray<number>
  /** The host of a group's sorted set. */
  readonly group: (group: string) => number
  /** The host a direct send to `channel` writes to (round robin for a normal channel). */
  readonly send: (channel: string) => number
  /** The host a group send writes a member channel's message to. */
  readonly member: (channel: string) => number
}

/** Opens one command connection per host in the current scope. */
export const make = (
  options: Resolved,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): Effect.Effect<Hosts, never, Scope.Scope> =>
  Effect.gen(function*() {
    const count = options.hosts.length
    const commands = yield* Effect.forEach(
      options.hosts,
      (endpoint) => Connection.make(endpoint, options, "commands", labels)
    )
    let next = 0
    return {
      endpoints: options.hosts,
      commands,
      all: options.hosts.map((_, i) => i),
      group: (group) => groupShardIndex(group, count),
      send: (channel) => {
        const index = receiveShardIndex(channel, count)
        if (index !== undefined) return index
        const host = next
        next = (next + 1) % count
        return host
      },
      member: (channel) => consistentHash(nonLocalName(channel), count)
    }
  })
