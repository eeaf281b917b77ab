/**
 * Drives peer/peer.py: a Python process speaking channels_rabbitmq's wire format (aiormq +
 * msgpack from Debian), one JSON line per event on its stdout and per command on its stdin.
 */
import { Duration, Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("../peer/peer.py", import.meta.url))
/** Debian's python3, where python3-aiormq and python3-msgpack are installed. */
export const python = process.env.PYTHON ?? "/usr/bin/python3"

/** An event the peer printed. */
export interface PeerEvent {
  readonly event: "ready" | "message" | "sent" | "error"
  readonly [key: string]: any
}

/** A running peer. */
export interface Peer {
  readonly channel: string
  readonly events: ReadonlyArray<PeerEvent>
  readonly command: (command: Record<string, unknown>) => Effect.Effect<PeerEvent>
  readonly waitFor: (
    predicate: (event: PeerEvent) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<PeerEvent>
}

/** Starts a peer in the given groups for the current scope, once it said ready. */
export const start = (groups: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(python, [script, ...groups.flatMap((group) => ["--group", group])], { stdio: ["pipe", "pipe", "pipe"] })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    const events: Array<PeerEvent> = []
    const listeners = new Set<() => void>()
    let stderr = ""
    let buffered = ""
    child.stderr.on("data", (chunk) => stderr += String(chunk))
    child.stdout.on("data", (chunk) => {
      buffered += String(chunk)
      let newline: number
      while ((newline = buffered.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buffered.slice(0, newline)) as PeerEvent)
        buffered = buffered.slice(newline + 1)
      }
      for (const listener of listeners) listener()
    })
    const waitFor = (predicate: (event: PeerEvent) => boolean, timeout: Duration.DurationInput = "10 seconds") =>
      Effect.async<PeerEvent>((resume) => {
        const check = () => {
          const found = events.find(predicate)
          if (found !== undefined) {
            listeners.delete(check)
            resume(Effect.succeed(found))
          }
        }
        listeners.add(check)
        child.on("exit", () => check())
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Error(`the Python peer did not print the event; events ${JSON.stringify(events)}, stderr ${stderr}`)
        }),
        Effect.orDie
      )
    const ready = yield* waitFor((event) => event.event === "ready", "20 seconds")
    let sentBefore = 0
    const peer: Peer = {
      channel: ready.channel as string,
      events,
      waitFor,
      command: (command) =>
        Effect.suspend(() => {
          const seen = sentBefore++
          child.stdin.write(JSON.stringify(command) + "\n")
          let acks = 0
          return waitFor((event) => (event.event === "sent" || event.event === "error") && acks++ >= seen)
        })
    }
    return peer
  })
