/**
 * The Redis backend of `ChannelLayer.make`. Channels of this instance are
 * `<prefix>.<client prefix>!<id>`: sends to them and group sends to its members are delivered
 * locally by core; what other processes write to their keys (`asgi` + `<prefix>.<client prefix>!`)
 * comes in through one receive loop per key. Every other channel is remote: a direct send is the
 * `send` script on its key; a normal channel is received with one BZPOPMIN per receive; a group
 * send lists the members and writes to their keys with the `groupSend` script.
 */
import { type Backend, Errors, Message, Metrics } from "@channel-layer/core"
import { Deferred, Duration, Effect, Exit, Fiber, FiberSet, LogLevel, Scope } from "effect"
import { randomUUID } from "node:crypto"
import type { RedisConnectionService } from "../RedisConnection.js"
import * as RedisMetrics from "../RedisMetrics.js"
import * as Connection from "./connection.js"
import * as Envelope from "./Envelope.js"
import * as Hosts from "./Hosts.js"
import type { Resolved } from "./options.js"
import * as Scripts from "./scripts.js"

/** BZPOPMIN's timeout in seconds: channels_redis's `brpop_timeout`. */
export const POP_TIMEOUT = 5

/** The most messages a receive loop takes from its key in one round trip. */
export const TAKE_BATCH = 100

/** The backend, and the connection service on its command connection. */
export interface RedisBackend extends Backend.Backend {
  readonly connection: RedisConnectionService
  readonly clientPrefix: string
}

const skipped = {
  key: "skipped",
  render: (total: number, top: string) =>
    `dropped ${total} stored message(s) that are not channel-layer messages or are for another process: ${top}`
}

const groupFull = {
  key: "group-full",
  render: (total: number, top: string) =>
    `${total} group message(s) not written to a member's key because it held its capacity (the members there ` +
    `missed them), by group: ${top}`
}

const expired = {
  key: "normal-expiry",
  level: LogLevel.Warning,
  render: (total: number, top: string) =>
    `dropped ${total} message(s) popped from Redis after their expiry (Redis trims a key only when it is sent to): ${top}`
}

/** One reply of BZPOPMIN: the key, the member, the score (a double in RESP3, a bulk string in RESP2). */
type Popped = readonly [Buffer, Buffer, Buffer | number]

const isPopped = (reply: unknown): reply is Popped =>
  Array.isArray(reply) && reply.length === 3 && Buffer.isBuffer(reply[1]) &&
  (Buffer.isBuffer(reply[2]) || typeof reply[2] === "number")

/** A message a normal-channel receive popped: the message, the member as popped, and its host. */
interface Taken {
  readonly message: Message.Message
  readonly popped: Popped
  readonly host: number
}

/** The score of a popped member, in seconds, as Redis holds it (the decimal form it was written in). */
const scoreOf = (popped: Popped): string => String(popped[2])

/** The value of `promise`, or `undefined` if it rejects or takes longer than `millis`. */
const within = <A>(promise: Promise<A>, millis: number): Promise<A | undefined> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), millis)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      }
    )
  })

/** The non-local part of a channel name: up to and including its `!`, or the whole name. */
export const nonLocal = (channel: string): string => {
  const bang = channel.indexOf("!")
  return bang === -1 ? channel : channel.slice(0, bang + 1)
}

/**
 * Makes the backend in the layer's scope. One closure on purpose: the command connection, the
 * receive loops, the idle blocking connections and the memberships are shared by the short
 * functions below.
 */
export const make = (options: Resolved, context: Backend.Context): Effect.Effect<RedisBackend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { labels, queues, warnings } = context
    const { capacityOf, prefix, waitForConnection } = options
    const envelope = Envelope.make(options, context)
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const runFork = yield* FiberSet.makeRuntime<never>()
    // One command connection per host; which host each operation uses is Hosts's (channels_redis's sharding).
    const hosts = yield* Hosts.make(options, labels)
    const commands = hosts.commands[0]
    const clientPrefix = randomUUID().replaceAll("-", "")
    const ownSuffix = `.${clientPrefix}!`
    const expiryMillis = String(options.expiry)
    const groupExpirySeconds = options.groupExpiry / 1000

    const keyOf = (channel: string) => prefix + nonLocal(channel)
    const groupKey = (group: string) => `${prefix}:group:${group}`
    const isOwn = (channel: string) => {
      const bang = channel.indexOf("!")
      return bang !== -1 && channel.slice(0, bang + 1).endsWith(ownSuffix)
    }

    let lastScore = 0
    /** The send time in seconds, strictly increasing in this process: FIFO per sender at equal times. */
    const score = (): number => {
      const now = Number(clock.unsafeCurrentTimeNanos() / 1000n) / 1e6
      lastScore = now > lastScore ? now : lastScore + 1e-6
      return lastScore
    }

    /** The members this instance added (normal channels included), for rejoining and leaving. */
    const memberships = new Map<string, Set<string>>()

    // --- receive loops on this instance's keys ---

    const deliverPopped = (key: string, popped: Popped) => {
      const opened = envelope.open(key, popped[1])
      if (opened === undefined) return
      const { channels, message } = opened
      const expiresAt = Number(scoreOf(popped)) * 1000 + options.expiry
      // Redis trims a key by expiry only when it is sent to: this one outlived it there.
      if (expiresAt <= queues.now()) {
        Metrics.messagesExpired.unsafeUpdate(1, labels)
        warnings.report(expired, key)
        return
      }
      const mine = (channels ?? []).filter((channel) => prefix + nonLocal(channel) === key)
      if (mine.length === 0 || mine.length !== (channels ?? []).length) {
        RedisMetrics.skippedMessages.unsafeUpdate(1, labels)
        warnings.report(skipped, `${key} (addressed to ${JSON.stringify(channels ?? "no channel")})`)
        if (mine.length === 0) return
      }
      // A full local channel drops it (counted and logged by the local queues), as a full member would.
      mine.forEach((channel, i) =>
        queues.unsafeDeliverDirect(
          channel,
          i === mine.length - 1 ? message : Message.clone(message),
          expiresAt,
          "drop"
        )
      )
    }

    const loops = new Set<string>()
    /**
     * The receive loop of one of this instance's keys, on a connection of its own, forever: after
     * each (re)connect, recover the batch whose reply was lost (`inflight`); then take batches
     * atomically into `$inflight` (`take`) while there are messages; when there are none, block
     * in BZPOPMIN (one message; see the README for its loss window).
     */
    const loop = (key: string, host: number) =>
      Effect.scoped(Effect.gen(function*() {
        const blocking = yield* Connection.make(hosts.endpoints[host], options, "blocking", labels)
        const inflightKey = `${key}$inflight`
        /** The members of the last batch handed over, to tell them from a batch whose reply was lost. */
        let handedOver = new Set<string>()
        let recover = true
        const deliverFlat = (flat: ReadonlyArray<unknown>, skip: ReadonlySet<string>) => {
          const members = new Set<string>()
          for (let i = 0; i + 1 < flat.length; i += 2) {
            const member = flat[i]
            const at = flat[i + 1]
            if (!Buffer.isBuffer(member) || !(Buffer.isBuffer(at) || typeof at === "number")) continue
            const id = member.toString("hex")
            members.add(id)
            if (!skip.has(id)) deliverPopped(key, [Buffer.alloc(0), member, at])
          }
          return members
        }
        const step = Effect.gen(function*() {
          if (recover) {
            const left = yield* Scripts.run(blocking, Scripts.inflight, [inflightKey], [], undefined)
            // Handed over now; a recovery repeated before the next take must not deliver them again.
            if (Array.isArray(left)) handedOver = deliverFlat(left, handedOver)
            recover = false
          }
          const batch = yield* Scripts.run(blocking, Scripts.take, [key, inflightKey], [
            String(TAKE_BATCH),
            String(options.expiry)
          ], undefined)
          if (Array.isArray(batch) && batch.length > 0) {
            handedOver = deliverFlat(batch, new Set())
            return
          }
          const reply = yield* Scripts.refusedAsClosed(
            blocking.call(["BZPOPMIN", key, String(POP_TIMEOUT)], undefined),
            "BZPOPMIN"
          )
          if (isPopped(reply)) deliverPopped(key, reply)
        })
        while (true) {
          const done = yield* Effect.either(step)
          if (done._tag === "Right") continue
          if (done.left._tag === "LayerClosed") return
          recover = true
          // Refused by Redis (logged, retried after a second), or lost (the next call waits for
          // the connection to be ready again).
          const refused = done.left.reason.startsWith("Redis refused")
          if (refused) yield* Effect.logWarning(`receive loop on ${key}: ${done.left.reason}; retrying in 1 s`)
          yield* Effect.sleep(Duration.millis(refused ? 1000 : 20))
        }
      })).pipe(Effect.annotateLogs({ transport: "redis", key, redis: hosts.endpoints[host].display }))

    const ensureLoop = (channel: string) => {
      const key = keyOf(channel)
      if (loops.has(key)) return
      loops.add(key)
      // Every host: channels_redis's send writes to the hash of the full channel name (see Hosts).
      for (const host of hosts.all) runFork(loop(key, host))
    }

    // --- normal channels: one pop per receive ---

    const idle: Array<Array<Connection.Connection>> = hosts.all.map(() => [])
    const takeBlocking = (host: number) =>
      Effect.suspend(() => {
        const connection = idle[host].pop()
        return connection !== undefined
          ? Effect.succeed(connection)
          : Scope.extend(Connection.make(hosts.endpoints[host], options, "blocking", labels), scope)
      })

    /** Puts back what an interrupted pop took, once Redis has answered it. */
    /**
     * Puts back what an interrupted pop took, once Redis has answered it. It runs uninterruptibly
     * (on interruption), where Effect timeouts cannot end a wait, so every wait is a promise with
     * its own timer. The ZADD goes on the connection that just answered, else the command one.
     */
    const putBack = (
      key: string,
      host: number,
      pending: Promise<unknown>,
      blocking: Connection.Connection,
      id: number | undefined
    ) =>
      Effect.gen(function*() {
        const commands = hosts.commands[host]
        if (id !== undefined && commands.isReady()) {
          yield* Effect.promise(() => within(commands.send(["CLIENT", "UNBLOCK", String(id)]), 1000))
        }
        const late = yield* Effect.promise(() => within(pending, (POP_TIMEOUT + 2) * 1000))
        if (!isPopped(late)) return
        const args = ["ZADD", key, scoreOf(late), late[1]]
        let back = yield* Effect.promise(() => within(blocking.send(args).then(() => true), 2000))
        if (back !== true && commands.isReady()) {
          back = yield* Effect.promise(() => within(commands.send(args).then(() => true), 2000))
        }
        if (back === true) {
          RedisMetrics.messagesPutBack.unsafeUpdate(1, labels)
          return
        }
        yield* Effect.logError(
          `a message popped from ${key} by an interrupted receive could not be put back (no connection to ` +
            `Redis answered within 2 s), and is lost`
        )
      })

    /** Puts a popped member back where it was (same score) on its host, for another receive to take. */
    const restorePopped = (key: string, host: number, popped: Popped) =>
      Effect.gen(function*() {
        const back = yield* Effect.either(
          hosts.commands[host].call(["ZADD", key, scoreOf(popped), popped[1]], waitForConnection)
        )
        if (back._tag === "Right") {
          RedisMetrics.messagesPutBack.unsafeUpdate(1, labels)
          return
        }
        yield* Effect.logError(
          `a message popped from ${key} by a receive on another host could not be put back, and is lost: ` +
            back.left.toString()
        )
      })

    const popOnce = (blocking: Connection.Connection, key: string, host: number) =>
      Effect.flatMap(blocking.awaitReady(undefined), () =>
        Effect.suspend(() => {
          const args = ["BZPOPMIN", key, String(POP_TIMEOUT)]
          const id = blocking.clientId()
          const pending = blocking.send(args)
          return Effect.tryPromise({ try: () => pending, catch: (error) => blocking.toError(error, args) }).pipe(
            Effect.onInterrupt(() => putBack(key, host, pending, blocking, id))
          )
        }))

    /** A receive on a normal channel: one pop at a time on its key (on every host with several). */
    const receiveNormal = (channel: string): Effect.Effect<Message.Message, Errors.LayerClosed> =>
      hosts.all.length === 1
        ? Effect.map(receiveNormalOn(channel, 0, (effect) => effect), (taken) => {
          Metrics.messagesReceived.unsafeUpdate(1, labels)
          return taken.message
        })
        : receiveSharded(channel)

    /**
     * Several hosts: a pop on each at once; the first message taken wins, and a message another
     * host's pop takes meanwhile is put back, as is what an interrupted pop took (see Hosts). Each
     * racer is interruptible only while it waits for Redis, so a popped message is always either
     * handed on or put back.
     */
    const receiveSharded = (channel: string): Effect.Effect<Message.Message, Errors.LayerClosed> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const key = keyOf(channel)
          const won = yield* Deferred.make<Taken, Errors.LayerClosed>()
          let failed = 0
          const racer = (host: number) =>
            Effect.uninterruptibleMask((waiting) =>
              Effect.matchEffect(receiveNormalOn(channel, host, waiting), {
                onFailure: (error) => ++failed === hosts.all.length ? Deferred.fail(won, error) : Effect.void,
                onSuccess: (taken) =>
                  Effect.flatMap(
                    Deferred.succeed(won, taken),
                    (first) => first ? Effect.void : restorePopped(key, host, taken.popped)
                  )
              })
            )
          const racers = yield* Effect.forEach(
            hosts.all,
            (host) => Effect.forkDaemon(Effect.interruptible(racer(host)))
          )
          const exit = yield* Effect.exit(restore(Deferred.await(won)))
          if (Exit.isSuccess(exit)) {
            // The others put back what their pops take before they end.
            runFork(Fiber.interruptAll(racers))
            Metrics.messagesReceived.unsafeUpdate(1, labels)
            return exit.value.message
          }
          yield* Fiber.interruptAll(racers)
          if (yield* Deferred.isDone(won)) {
            const late = yield* Effect.exit(Deferred.await(won))
            if (Exit.isSuccess(late)) yield* restorePopped(key, late.value.host, late.value.popped)
          }
          return yield* Effect.failCause(exit.cause)
        })
      )

    /**
     * Pops on one host until a message for the channel comes: interruptible only inside `waiting`
     * (the pops and the pauses), so a popped message is always returned.
     */
    const receiveNormalOn = (
      channel: string,
      host: number,
      waiting: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    ): Effect.Effect<Taken, Errors.LayerClosed> => {
      const key = keyOf(channel)
      return Effect.acquireUseRelease(
        takeBlocking(host),
        (blocking) =>
          Effect.gen(function*() {
            while (true) {
              const reply = yield* Effect.either(waiting(popOnce(blocking, key, host)))
              if (reply._tag === "Left") {
                if (reply.left._tag === "LayerClosed") return yield* Effect.fail(reply.left)
                yield* waiting(Effect.sleep(Duration.millis(reply.left._tag === "ReplyError" ? 1000 : 20)))
                continue
              }
              if (!isPopped(reply.right)) continue
              const opened = envelope.open(key, reply.right[1])
              if (opened === undefined) continue
              if (Number(scoreOf(reply.right)) * 1000 + options.expiry <= queues.now()) {
                Metrics.messagesExpired.unsafeUpdate(1, labels)
                warnings.report(expired, channel)
                continue
              }
              return { message: opened.message, popped: reply.right, host }
            }
          }),
        (blocking) => Effect.sync(() => idle[host].push(blocking))
      )
    }

    // --- groups ---

    const join = (group: string, channel: string) =>
      Scripts.run(hosts.commands[hosts.group(group)], Scripts.join, [groupKey(group)], [
        String(score()),
        channel,
        String(options.groupExpiry)
      ], waitForConnection)

    const rejoinAll = (host: number) =>
      Effect.suspend(() =>
        Effect.forEach(
          [...memberships].filter(([group]) => hosts.group(group) === host),
          ([group, channels]) =>
            Scripts.run(
              hosts.commands[host],
              Scripts.rejoin,
              [groupKey(group)],
              [String(score()), String(options.groupExpiry), ...channels],
              waitForConnection
            ).pipe(
              Effect.catchAll((error) =>
                Effect.logWarning(`could not write the members of group ${group} again: ${error.toString()}`)
              )
            ),
          { discard: true }
        )
      )
    hosts.all.forEach((host) =>
      hosts.commands[host].onReconnect(() => rejoinAll(host).pipe(Effect.annotateLogs("transport", "redis")))
    )

    const groupPublish = (group: string, body: Uint8Array) =>
      Effect.gen(function*() {
        const now = score()
        const listed = yield* Scripts.run(
          hosts.commands[hosts.group(group)],
          Scripts.members,
          [groupKey(group)],
          [String(now - groupExpirySeconds)],
          waitForConnection
        )
        const byKey = new Map<string, Array<string>>()
        for (const name of Array.isArray(listed) ? listed : []) {
          const channel = String(name)
          // This instance's members got it from core already.
          if (isOwn(channel)) continue
          const key = keyOf(channel)
          const list = byKey.get(key)
          if (list === undefined) byKey.set(key, [channel])
          else list.push(channel)
        }
        if (byKey.size === 0) return
        // One script per host, with the keys that live there (Hosts.member).
        const byHost = new Map<number, Array<ReadonlyArray<string>>>()
        for (const list of byKey.values()) {
          const host = hosts.member(list[0])
          const onHost = byHost.get(host)
          if (onHost === undefined) byHost.set(host, [list])
          else onHost.push(list)
        }
        yield* Effect.forEach(byHost, ([host, lists]) =>
          Effect.gen(function*() {
            const full = yield* Scripts.run(
              hosts.commands[host],
              Scripts.groupSend,
              lists.map((channels) => keyOf(channels[0])),
              [
                ...envelope.group(group, body, lists),
                ...lists.map((channels) => String(capacityOf(channels[0]))),
                String(now),
                expiryMillis
              ],
              waitForConnection
            )
            if (Array.isArray(full) && full.length > 0) {
              const missed = full.reduce((n: number, index) => n + (lists[Number(index) - 1]?.length ?? 0), 0)
              Metrics.messagesRejectedFull.unsafeUpdate(missed, labels)
              warnings.report(groupFull, group, missed)
            }
          }), { discard: true, concurrency: "unbounded" })
      })

    // Registered after the command connection, so it runs while that connection is still open:
    // this instance's channels leave their groups (other processes stop writing to keys nobody reads).
    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        [...memberships],
        ([group, channels]) => hosts.commands[hosts.group(group)].call(["ZREM", groupKey(group), ...channels], 500),
        { discard: true, concurrency: "unbounded" }
      ).pipe(
        // A finalizer is uninterruptible: without this the timeout could not stop a wait for a
        // connection that never comes.
        Effect.interruptible,
        Effect.timeout(Duration.seconds(1)),
        Effect.ignore
      )
    )

    const connection: RedisConnectionService = {
      // With several hosts: ready when every host is, the first host's error, commands on the first host.
      isReady: Effect.sync(() => hosts.commands.every((host) => host.isReady())),
      awaitReady: Effect.forEach(hosts.commands, (host) => host.awaitReady(waitForConnection), { discard: true }),
      lastError: Effect.sync(() => hosts.commands.map((host) => host.lastError()).find((e) => e !== undefined)),
      command: (args) => Scripts.refusedAsClosed(commands.call(args, waitForConnection), String(args[0])),
      clientPrefix
    }

    return {
      connection,
      clientPrefix,
      newChannel: (channelPrefix) =>
        Effect.sync(() => {
          const name = `${channelPrefix ?? "specific"}${ownSuffix}${randomUUID().replaceAll("-", "")}`
          // Core refuses a name that is too long; no loop for it.
          if (name.length < 100) ensureLoop(name)
          return name
        }),
      route: (channel) => isOwn(channel) ? "local" : "remote",
      refuses: (channel, action) =>
        !channel.includes("!") || isOwn(channel)
          ? undefined
          : `the channel belongs to another layer instance (${nonLocal(channel)}); this instance ` +
            `(client prefix ${clientPrefix}) can only ${action} its own channels, from its newChannel, ` +
            `and normal channels (without "!")`,
      publish: (channel, body) =>
        Effect.flatMap(
          Scripts.run(hosts.commands[hosts.send(channel)], Scripts.send, [keyOf(channel)], [
            envelope.direct(channel, body),
            String(capacityOf(channel)),
            String(score()),
            expiryMillis
          ], waitForConnection),
          (added) => {
            if (added === 1) return Effect.void
            Metrics.messagesRejectedFull.unsafeUpdate(1, labels)
            return Effect.fail(new Errors.ChannelFull({ channel, capacity: capacityOf(channel) }))
          }
        ),
      groups: {
        fanOutLocally: true,
        leaves: () => true,
        publish: groupPublish,
        join: (group, channel, _first, apply) =>
          Effect.suspend(() => {
            let members = memberships.get(group)
            if (members === undefined) memberships.set(group, members = new Set())
            members.add(channel)
            // This instance's channels get group messages from core's local fan-out; normal
            // channels through Redis, where their receivers pop them.
            if (isOwn(channel)) {
              ensureLoop(channel)
              apply()
            }
            return Effect.asVoid(join(group, channel))
          }),
        rejoin: (group, channel) => Effect.asVoid(join(group, channel)),
        leave: (group, channel, _last, apply) =>
          Effect.suspend(() => {
            apply()
            const members = memberships.get(group)
            members?.delete(channel)
            if (members?.size === 0) memberships.delete(group)
            return Effect.asVoid(
              Scripts.refusedAsClosed(
                hosts.commands[hosts.group(group)].call(["ZREM", groupKey(group), channel], waitForConnection),
                "ZREM"
              )
            )
          })
      },
      onReceive: (channel) => {
        if (isOwn(channel)) ensureLoop(channel)
      },
      receive: (channel) => channel.includes("!") ? undefined : receiveNormal(channel)
    }
  })
