/**
 * A Python channels_redis peer (peer.py) as a scoped Effect resource: spawned on acquire, told to
 * quit (then killed if it lingers) on release, driven with typed commands. For tests that check the
 * TypeScript layer against Debian's Python RedisChannelLayer:
 *
 *     it.scoped("...", () => Effect.gen(function*() {
 *       const python = yield* Peer.make({ hosts: [REDIS_URL], prefix })
 *       const channel = yield* python.newChannel()
 *       // ... our layer sends to `channel` ...
 *       const message = yield* python.receive(channel, 5)
 *     }))
 *
 * Commands run concurrently on the Python side (a waiting receive does not hold up a send), and an
 * answer is matched to its command by id. A failure the Python layer raises comes back as a
 * `PeerError` whose `type` is the Python exception's class name ("ChannelFull", "InvalidToken",
 * "AssertionError", "TypeError", ...) or "Timeout" for a receive that got nothing in time; a peer
 * that dies or does not start is a `PeerCrashed` with the end of its stderr.
 */
import type { MessageValue } from "@channel-layer/core/Message"
import { Data, Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { PYTHON, script } from "./python.js"
import { tag, untag } from "./TaggedJson.js"

/** What peer.py passes to RedisChannelLayer (channels_redis's own option names). */
export interface PeerOptions {
  /** redis:// URLs, one per shard (default channels_redis's redis://localhost:6379). */
  readonly hosts?: ReadonlyArray<string>
  readonly prefix?: string
  readonly expiry?: number
  readonly groupExpiry?: number
  readonly capacity?: number
  readonly channelCapacity?: Readonly<Record<string, number>>
  readonly symmetricEncryptionKeys?: ReadonlyArray<string>
}

/** Sorted sets by key: their members (raw bytes) and scores, in score order. */
export type Dump = ReadonlyMap<string, ReadonlyArray<readonly [Uint8Array, number]>>

/** A message as the Python layer takes and gives it: any dict (channels_redis does not need "type"). */
export type PeerMessage = { readonly [key: string]: MessageValue }

/** An exception the Python layer raised for a command. */
export class PeerError extends Data.TaggedError("PeerError")<{
  readonly op: string
  /** The Python exception's class name, or "Timeout". */
  readonly type: string
  readonly detail: string
}> {
  override get message(): string {
    return `Python peer ${this.op}: ${this.type}: ${this.detail}`
  }
}

/** The peer did not start, died, or said something that is not an answer. */
export class PeerCrashed extends Data.TaggedError("PeerCrashed")<{
  readonly reason: string
  readonly stderr: string
}> {
  override get message(): string {
    return `Python peer: ${this.reason}${this.stderr === "" ? "" : `\n${this.stderr}`}`
  }
}

/** A Python layer to drive. */
export interface Peer {
  /** The layer's `client_prefix`: its process-specific channels are `<prefix>.<client_prefix>!<id>`. */
  readonly clientPrefix: string
  readonly newChannel: (prefix?: string) => Effect.Effect<string, PeerError | PeerCrashed>
  readonly send: (channel: string, message: PeerMessage) => Effect.Effect<void, PeerError | PeerCrashed>
  /** Waits up to `timeoutSeconds` (a `PeerError` of type "Timeout" after that). */
  readonly receive: (channel: string, timeoutSeconds: number) => Effect.Effect<PeerMessage, PeerError | PeerCrashed>
  readonly groupAdd: (group: string, channel: string) => Effect.Effect<void, PeerError | PeerCrashed>
  readonly groupDiscard: (group: string, channel: string) => Effect.Effect<void, PeerError | PeerCrashed>
  readonly groupSend: (group: string, message: PeerMessage) => Effect.Effect<void, PeerError | PeerCrashed>
  readonly flush: Effect.Effect<void, PeerError | PeerCrashed>
  /** Every sorted set under the prefix, of all hosts: key -> [member bytes, score] in score order. */
  readonly dump: Effect.Effect<Dump, PeerError | PeerCrashed>
  /** The same, one map per host, in the order of `hosts` (to see which shard holds what). */
  readonly dumpHosts: Effect.Effect<ReadonlyArray<Dump>, PeerError | PeerCrashed>
}

interface Answer {
  readonly id: number | null
  readonly ok: boolean
  readonly result?: unknown
  readonly error?: { readonly type: string; readonly message: string }
}

const STDERR_KEEP = 4000

/** Starts peer.py with the options; it quits (or is killed) when the scope closes. */
export const make = (options: PeerOptions = {}): Effect.Effect<Peer, PeerCrashed, Scope.Scope> =>
  Effect.gen(function*() {
    const pythonOptions = {
      ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      ...(options.expiry === undefined ? {} : { expiry: options.expiry }),
      ...(options.groupExpiry === undefined ? {} : { group_expiry: options.groupExpiry }),
      ...(options.capacity === undefined ? {} : { capacity: options.capacity }),
      ...(options.channelCapacity === undefined ? {} : { channel_capacity: options.channelCapacity }),
      ...(options.symmetricEncryptionKeys === undefined
        ? {}
        : { symmetric_encryption_keys: options.symmetricEncryptionKeys })
    }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(PYTHON, [script("peer.py"), JSON.stringify(pythonOptions)], { stdio: "pipe" })),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          if (child.stdin.writable) child.stdin.end(JSON.stringify({ id: -1, op: "quit" }) + "\n")
          else child.kill("SIGTERM")
        })
    )

    let stderr = ""
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP)
    })
    const pending = new Map<number, (answer: Answer | PeerCrashed) => void>()
    let dead: PeerCrashed | undefined
    let onReady: ((ready: { clientPrefix: string } | PeerCrashed) => void) | undefined
    const die = (reason: string) => {
      if (dead !== undefined) return
      dead = new PeerCrashed({ reason, stderr })
      onReady?.(dead)
      for (const resume of pending.values()) resume(dead)
      pending.clear()
    }
    child.on("error", (error) => die(`cannot run ${PYTHON}: ${error.message}`))
    child.on("exit", (code, signal) => die(`exited (${signal ?? `status ${code}`})`))
    child.stdin.on("error", () => {}) // an exit is reported by the exit handler
    createInterface({ input: child.stdout }).on("line", (line) => {
      let parsed: Record<string, unknown>
      try {
        parsed = JSON.parse(line)
      } catch {
        return die(`said something that is not JSON: ${line.slice(0, 200)}`)
      }
      if (parsed.ready === true) return onReady?.({ clientPrefix: String(parsed.client_prefix) })
      const answer = parsed as unknown as Answer
      if (typeof answer.id !== "number") return die(`answered no command: ${line.slice(0, 200)}`)
      const resume = pending.get(answer.id)
      pending.delete(answer.id)
      resume?.(answer)
    })

    const { clientPrefix } = yield* Effect.async<{ clientPrefix: string }, PeerCrashed>((resume) => {
      if (dead !== undefined) return resume(Effect.fail(dead))
      onReady = (ready) => resume(ready instanceof PeerCrashed ? Effect.fail(ready) : Effect.succeed(ready))
    }).pipe(
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new PeerCrashed({ reason: "did not say it was ready within 30 s", stderr })
      })
    )

    let nextId = 0
    const command = (op: string, fields: Record<string, unknown> = {}) =>
      Effect.async<unknown, PeerError | PeerCrashed>((resume) => {
        if (dead !== undefined) return resume(Effect.fail(dead))
        const id = nextId++
        pending.set(id, (answer) => {
          if (answer instanceof PeerCrashed) return resume(Effect.fail(answer))
          if (answer.ok) return resume(Effect.succeed(answer.result))
          resume(Effect.fail(
            new PeerError({ op, type: answer.error?.type ?? "Unknown", detail: answer.error?.message ?? "" })
          ))
        })
        child.stdin.write(JSON.stringify({ id, op, ...fields }) + "\n")
        // Interrupted: forget the answer (the Python side finishes the command on its own).
        return Effect.sync(() => pending.delete(id))
      })

    const dumpHosts = Effect.map(
      command("dump"),
      (hosts): ReadonlyArray<Dump> =>
        (hosts as ReadonlyArray<Record<string, ReadonlyArray<readonly [string, number]>>>).map((host) =>
          new Map(
            Object.entries(host).map(([key, members]) => [
              key,
              members.map(([member, score]) => [new Uint8Array(Buffer.from(member, "base64")), score] as const)
            ])
          )
        )
    )
    const unit = (op: string, fields: Record<string, unknown>) => Effect.asVoid(command(op, fields))
    const peer: Peer = {
      clientPrefix,
      newChannel: (prefix = "specific") => Effect.map(command("new_channel", { prefix }), String),
      send: (channel, message) => unit("send", { channel, message: tag(message) }),
      receive: (channel, timeout) =>
        Effect.map(command("receive", { channel, timeout }), (result) => untag(result) as PeerMessage),
      groupAdd: (group, channel) => unit("group_add", { group, channel }),
      groupDiscard: (group, channel) => unit("group_discard", { group, channel }),
      groupSend: (group, message) => unit("group_send", { group, message: tag(message) }),
      flush: unit("flush", {}),
      dump: Effect.map(dumpHosts, (hosts): Dump => new Map(hosts.flatMap((host) => [...host]))),
      dumpHosts
    }
    return peer
  })
