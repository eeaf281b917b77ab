/**
 * The Lua scripts of the transport, each one atomic round trip, and how they run: `EVALSHA`, and
 * `EVAL` when Redis has lost its script cache (a restart, `SCRIPT FLUSH`). The keys and the data
 * they leave are channels_redis 4.x's, so Python processes read and write the same sets.
 */
import { Errors } from "@channel-layer/core"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { type Argument, type CallError, type Connection, isNoScript } from "./connection.js"

/** A script and its SHA1. */
export interface Script {
  readonly name: string
  readonly source: string
  readonly sha: string
}

const script = (name: string, source: string): Script => ({
  name,
  source,
  sha: createHash("sha1").update(source).digest("hex")
})

/**
 * A direct send. KEYS[1]: the channel's key; ARGV: the stored member, the capacity, the send time
 * (the score, in seconds), the expiry in seconds. Drops the messages older than expiry, then adds
 * the member unless the set holds `capacity` already, and sets the key to expire. 1: added, 0: full.
 * (channels_redis runs the same four commands one after the other; here they are one.)
 */
export const send = script(
  "send",
  `redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[3]) - tonumber(ARGV[4]) / 1000)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`
)

/**
 * A group's members. KEYS[1]: the group's key; ARGV[1]: the oldest join time still a member.
 * Drops the members that joined before it, then lists the others.
 */
export const members = script(
  "members",
  `redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)`
)

/**
 * A group send to the member keys on one server. KEYS: the member keys; ARGV: a stored member per
 * key, a capacity per key, the send time, the expiry in milliseconds. Each key is trimmed by expiry
 * and gets its member unless full. Returns the indices (1-based) of the keys that were full.
 */
export const groupSend = script(
  "groupSend",
  `local n = #KEYS
local now = tonumber(ARGV[2 * n + 1])
local expiry = tonumber(ARGV[2 * n + 2])
local oldest = now - expiry / 1000
local full = {}
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, oldest)
  if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n + i]) then
    redis.call('ZADD', KEYS[i], ARGV[2 * n + 1], ARGV[i])
    redis.call('PEXPIRE', KEYS[i], expiry)
  else
    full[#full + 1] = i
  end
end
return full`
)

/** Runs `script` on `connection` (waiting up to `wait` ms for it to be ready). */
export const run = (
  connection: Connection,
  script: Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<Argument>,
  wait: number | undefined
): Effect.Effect<unknown, Errors.ConnectionClosed | Errors.LayerClosed> => {
  const tail = [String(keys.length), ...keys, ...args]
  return connection.call(["EVALSHA", script.sha, ...tail], wait).pipe(
    Effect.catchIf(isNoScript, () => connection.call(["EVAL", script.source, ...tail], wait)),
    Effect.catchTag("ReplyError", (error) =>
      Effect.fail(
        new Errors.ConnectionClosed({ reason: `Redis refused the ${script.name} script: ${error.reason}` })
      ))
  )
}

/** A command's errors, Redis's refusals as `ConnectionClosed` with Redis's reason. */
export const refusedAsClosed = <A>(
  effect: Effect.Effect<A, CallError>,
  what: string
): Effect.Effect<A, Errors.ConnectionClosed | Errors.LayerClosed> =>
  Effect.catchTag(
    effect,
    "ReplyError",
    (error) => Effect.fail(new Errors.ConnectionClosed({ reason: `Redis refused ${what}: ${error.reason}` }))
  )

/**
 * A join. KEYS[1]: the group's key; ARGV: the join time, the channel, the group expiry in
 * milliseconds. As channels_redis's `group_add`: ZADD, then the key expires `groupExpiry` later.
 */
export const join = script(
  "join",
  `redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`
)

/**
 * Memberships written again after a reconnect. KEYS[1]: the group's key; ARGV: the join time,
 * the group expiry in milliseconds, then the channels. Adds only the channels that are missing (a
 * Redis that lost its data), keeping the join time of those still there.
 */
export const rejoin = script(
  "rejoin",
  `for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`
)

/**
 * A batch taken from one of this instance's keys, kept until it is handed over. KEYS[1]: the key;
 * KEYS[2]: its `$inflight` set; ARGV: how many at most, the expiry in milliseconds. The previous
 * batch is in the process already (a batch is taken only after the last one was handed over):
 * the `$inflight` set is emptied, then refilled with the members popped now, which are returned
 * (member, score, member, score, …). If the reply is lost with the connection, the batch is still
 * in `$inflight` for {@link inflight} to recover after the reconnect.
 */
export const take = script(
  "take",
  `redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
end
if #popped > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return popped`
)

/** The members of a key's `$inflight` set with their scores (member, score, …). KEYS[1]: the set. */
export const inflight = script("inflight", `return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')`)
