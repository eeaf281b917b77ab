/**
 * Extra RabbitMQ nodes for tests, run as child processes next to the shared test broker: a plain
 * node that a test can stop and start again (failover), and the machinery `TlsBroker` uses.
 *
 * How a second node is made independent of the system one (RabbitMQ 3.10 on Debian):
 * - The real scripts in `/usr/lib/rabbitmq/bin` are used, not the `/usr/sbin` wrappers: run as
 *   root, those re-run everything as the `rabbitmq` user with its own HOME and cwd. Override
 *   with `binDir` or `RABBITMQ_BIN_DIR`; when neither exists, the commands are taken from `PATH`
 *   (Nix, Homebrew, generic-unix).
 * - `RABBITMQ_CONF_ENV_FILE` points to an empty file, or `/etc/rabbitmq/rabbitmq-env.conf` (which
 *   sets `NODENAME=rabbit@localhost`) would apply; inherited `RABBITMQ_*` variables are dropped.
 * - Own `RABBITMQ_NODENAME` (`<prefix>-<random>@localhost`), `RABBITMQ_CONFIG_FILE` (no extension),
 *   `RABBITMQ_ADVANCED_CONFIG_FILE` (absent), `RABBITMQ_MNESIA_BASE`, `RABBITMQ_LOG_BASE`,
 *   `RABBITMQ_LOGS`, `RABBITMQ_PID_FILE`, `RABBITMQ_ENABLED_PLUGINS_FILE` (`[].`: no management
 *   plugin), and `RABBITMQ_DIST_PORT` (else it would take 25672 = 5672 + 20000, the system
 *   node's). The AMQP listener comes from the config file; `RABBITMQ_NODE_PORT` is not needed.
 * - `HOME` is a directory of its own holding a fresh `.erlang.cookie` (mode 0400), given to the
 *   node and to its `rabbitmqctl` alike, so nothing depends on the system node's cookie or on
 *   the user the tests run as. The node registers with the running epmd (or starts one).
 * - `rabbitmqctl await_startup` fails at once (status 69) until the node has registered with
 *   epmd, so it is retried until it succeeds, the process dies, or the start timeout passes.
 * - The vhost comes from `default_vhost` in the config file: created with every permission for
 *   guest on first boot, so the node has that vhost only (no `/`) and no CLI call is needed.
 * - The process is spawned in its own process group: the last resort on stop is SIGKILL to the
 *   whole group (the sh wrapper, beam.smp, erl_child_setup, inet_gethost).
 */
import type { Scope } from "effect"
import { Data, Deferred, Duration, Effect, Option, Ref, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileExcerpt, makeTempDir, withLiveClock } from "./internal.js"
import * as Ports from "./Ports.js"
import * as Rabbitmqctl from "./Rabbitmqctl.js"

/** A node failed to start (the message ends with the tail of its log) or its setup failed. */
export class RabbitNodeError extends Data.TaggedError("RabbitNodeError")<{
  readonly nodeName: string
  readonly message: string
}> {}

/** An extra RabbitMQ node owned by the test. */
export interface RabbitNode {
  /** Erlang node name, e.g. `rabbit-test-1a2b3c4d@localhost`. */
  readonly nodeName: string
  /** The AMQP listener port (plain or TLS). Stays the same across stop/start. */
  readonly port: number
  /** Erlang distribution port. */
  readonly distPort: number
  /** The node's private directory (config, data, logs, cookie). */
  readonly dir: string
  /** The node's main log file. */
  readonly logFile: string
  /** Options that point the {@link Rabbitmqctl} helpers at this node. */
  readonly ctl: Rabbitmqctl.CtlOptions
  /** A guest URL for `vhost` (default `asgi`). */
  readonly url: (vhost?: string) => string
  /** Starts the node again (same data, same ports) and waits until it is up; no-op if running. */
  readonly start: Effect.Effect<void, RabbitNodeError>
  /** Graceful stop (`rabbitmqctl stop`), SIGKILL if it takes too long; no-op if not running. */
  readonly stop: Effect.Effect<void>
  /** Kills the node with SIGKILL, like a crash; no-op if not running. */
  readonly kill: Effect.Effect<void>
  /** Whether the node process is alive. */
  readonly isRunning: Effect.Effect<boolean>
}

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  /** Node name prefix (default `rabbit-test`). */
  readonly namePrefix?: string | undefined
  /** The node's only vhost, where guest has every permission (default `asgi`; there is no `/`). */
  readonly vhost?: string | undefined
  /** How long a start may take (default 60 s). */
  readonly startTimeout?: Duration.DurationInput | undefined
  /** Directory of `rabbitmq-server` and `rabbitmqctl` (see the module comment). */
  readonly binDir?: string | undefined
  /** The Erlang cookie (default: a fresh one). Nodes that form a cluster need the same one. */
  readonly cookie?: string | undefined
}

/** What {@link launchNode} needs; the directory must exist and outlive the node's scope. */
export interface LaunchSpec extends StartNodeOptions {
  readonly dir: string
  readonly port: number
  readonly distPort: number
  /** `rabbitmq.conf` lines (listeners, TLS...). */
  readonly config: ReadonlyArray<string>
  readonly url: (vhost?: string) => string
}

const defaultBinDir = "/usr/lib/rabbitmq/bin"

const resolveBinDir = (explicit: string | undefined): string | undefined =>
  explicit ?? process.env.RABBITMQ_BIN_DIR ??
    (fs.existsSync(path.join(defaultBinDir, "rabbitmq-server")) ? defaultBinDir : undefined)

/** A fresh Erlang cookie. */
const randomCookie = (): string => randomBytes(15).toString("hex").toUpperCase()

/** A short random suffix for node names. */
export const randomSuffix = (): string => randomBytes(4).toString("hex")

interface Running {
  readonly child: ChildProcess
  /** Completes with a description of how the process ended. */
  readonly exited: Deferred.Deferred<string>
}

/**
 * Starts a plain (no TLS) extra node on 127.0.0.1 with its own ports and data directory and
 * waits until it is up with the vhost created. `stop`/`kill` and `start` let a test take it
 * down and bring it back mid-test. Closing the scope stops it and deletes its directory.
 */
export const startNode = (options: StartNodeOptions = {}): Effect.Effect<RabbitNode, RabbitNodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* makeTempDir("rabbit-node-")
    const [port, distPort] = yield* Ports.free(2).pipe(
      Effect.mapError((error) => new RabbitNodeError({ nodeName: "", message: error.message }))
    )
    return yield* launchNode({
      ...options,
      dir,
      port,
      distPort,
      config: [`listeners.tcp.default = 127.0.0.1:${port}`],
      url: (vhost = options.vhost ?? "asgi") => `amqp://guest:guest@127.0.0.1:${port}/${encodeURIComponent(vhost)}`
    })
  })

/**
 * Writes the node's files into `spec.dir`, starts it and waits for it (used by `startNode` and
 * `TlsBroker.make`). The node is stopped when the scope closes; the directory is the caller's.
 */
export const launchNode = (spec: LaunchSpec): Effect.Effect<RabbitNode, RabbitNodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const nodeName = `${spec.namePrefix ?? "rabbit-test"}-${randomSuffix()}@localhost`
    const vhost = spec.vhost ?? "asgi"
    const startTimeout = spec.startTimeout ?? Duration.seconds(60)
    const binDir = resolveBinDir(spec.binDir)
    const bin = (name: string) => binDir === undefined ? name : path.join(binDir, name)
    const dir = spec.dir
    const home = path.join(dir, "home")
    const logFile = path.join(dir, "log", "node.log")
    const outputFile = path.join(dir, "log", "output.log")

    yield* Effect.tryPromise({
      try: async () => {
        await fs.promises.mkdir(home, { recursive: true })
        await fs.promises.mkdir(path.join(dir, "mnesia"), { recursive: true })
        await fs.promises.mkdir(path.join(dir, "log"), { recursive: true })
        await fs.promises.writeFile(path.join(home, ".erlang.cookie"), spec.cookie ?? randomCookie(), { mode: 0o400 })
        await fs.promises.writeFile(path.join(dir, "enabled_plugins"), "[].\n")
        await fs.promises.writeFile(path.join(dir, "rabbitmq-env.conf"), "")
        const config = [
          ...spec.config,
          `default_vhost = ${vhost}`,
          "loopback_users = none",
          "disk_free_limit.absolute = 1MB",
          "log.file.level = info"
        ]
        await fs.promises.writeFile(path.join(dir, "rabbitmq.conf"), config.join("\n") + "\n")
      },
      catch: (cause) => new RabbitNodeError({ nodeName, message: `cannot prepare ${dir}: ${String(cause)}` })
    })

    const nodeEnv: Record<string, string> = {
      HOME: home,
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_CONF_ENV_FILE: path.join(dir, "rabbitmq-env.conf"),
      RABBITMQ_CONFIG_FILE: path.join(dir, "rabbitmq"),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, "advanced.config"),
      RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
      RABBITMQ_LOG_BASE: path.join(dir, "log"),
      RABBITMQ_LOGS: logFile,
      RABBITMQ_PID_FILE: path.join(dir, "node.pid"),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, "enabled_plugins"),
      RABBITMQ_DIST_PORT: String(spec.distPort),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}"
    }
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter((entry): entry is [string, string] =>
        !entry[0].startsWith("RABBITMQ_") && entry[1] !== undefined
      )
    )
    const fullEnv = { ...inherited, ...nodeEnv }
    const ctl: Rabbitmqctl.CtlOptions = { command: bin("rabbitmqctl"), node: nodeName, env: fullEnv }

    const state = yield* Ref.make(Option.none<Running>())
    const lock = yield* Effect.makeSemaphore(1)

    const failure = (message: string) =>
      Effect.gen(function*() {
        const log = yield* fileExcerpt(logFile, 0, 40)
        const output = yield* fileExcerpt(outputFile, 30, 30)
        return new RabbitNodeError({
          nodeName,
          message: `RabbitMQ node ${nodeName} (dir ${dir}): ${message}\n--- tail of ${logFile}:\n${log}\n` +
            `--- process output (stdout and stderr):\n${output}`
        })
      })

    const spawnNode = Effect.gen(function*() {
      const exited = yield* Deferred.make<string>()
      const child = yield* Effect.try({
        try: () => {
          const out = fs.openSync(outputFile, "a")
          try {
            return spawn(bin("rabbitmq-server"), [], {
              cwd: dir,
              env: fullEnv,
              detached: true,
              stdio: ["ignore", out, out]
            })
          } finally {
            fs.closeSync(out)
          }
        },
        catch: (cause) => new RabbitNodeError({ nodeName, message: `cannot spawn rabbitmq-server: ${String(cause)}` })
      })
      child.once(
        "exit",
        (code, signal) =>
          Deferred.unsafeDone(exited, Effect.succeed(signal === null ? `exit status ${code}` : `signal ${signal}`))
      )
      child.once("error", (error) => Deferred.unsafeDone(exited, Effect.succeed(`spawn error: ${error.message}`)))
      return { child, exited } satisfies Running
    })

    const killGroup = (running: Running) =>
      Effect.gen(function*() {
        yield* Effect.sync(() => {
          const pid = running.child.pid
          if (pid === undefined) return
          try {
            process.kill(-pid, "SIGKILL")
          } catch {
            // already gone
          }
        })
        yield* Deferred.await(running.exited).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      })

    const awaitStartup = (running: Running) =>
      Effect.gen(function*() {
        const lastError = yield* Ref.make("(rabbitmqctl never ran)")
        const ready = Rabbitmqctl.run(["await_startup", "--timeout", "20"], { ...ctl, timeoutMs: 30_000 }).pipe(
          Effect.tapError((error) => Ref.set(lastError, error.message.split("\n")[0])),
          Effect.retry({ schedule: Schedule.spaced("200 millis"), while: (error) => error.reason === "Exit" }),
          Effect.mapError((error) => error.message)
        )
        const died = Deferred.await(running.exited).pipe(
          Effect.flatMap((how) => Effect.fail(`the process ended (${how}) before the node was up`))
        )
        yield* Effect.raceFirst(ready, died).pipe(
          Effect.timeoutFail({
            duration: startTimeout,
            onTimeout: () => `not up after ${Duration.format(Duration.decode(startTimeout))}`
          }),
          Effect.catchAll((message) =>
            Ref.get(lastError).pipe(
              Effect.flatMap((last) => failure(`${message}; last rabbitmqctl error: ${last}`)),
              Effect.flatMap(Effect.fail)
            )
          )
        )
      })

    const isRunning = Ref.get(state).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(false),
        onSome: (running) => Deferred.isDone(running.exited).pipe(Effect.map((done) => !done))
      }))
    )

    const killUnlocked = Ref.getAndSet(state, Option.none()).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: killGroup }))
    )

    const stopUnlocked = Ref.getAndSet(state, Option.none()).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.void,
        onSome: (running) =>
          Effect.gen(function*() {
            if (yield* Deferred.isDone(running.exited)) return
            const asked = yield* Rabbitmqctl.run(["stop"], { ...ctl, timeoutMs: 30_000 }).pipe(Effect.either)
            const stopped = asked._tag === "Left"
              ? Option.none()
              : yield* Deferred.await(running.exited).pipe(Effect.timeout("20 seconds"), Effect.option)
            if (Option.isNone(stopped)) yield* killGroup(running)
          })
      }))
    )

    const startUnlocked = Effect.gen(function*() {
      if (yield* isRunning) return
      const running = yield* spawnNode
      yield* Ref.set(state, Option.some(running))
      yield* awaitStartup(running).pipe(Effect.tapError(() => killUnlocked))
    })

    const start = lock.withPermits(1)(startUnlocked).pipe(withLiveClock)
    const stop = lock.withPermits(1)(stopUnlocked).pipe(withLiveClock)
    const kill = lock.withPermits(1)(killUnlocked).pipe(withLiveClock)

    yield* Effect.addFinalizer(() => stop)
    yield* start

    return {
      nodeName,
      port: spec.port,
      distPort: spec.distPort,
      dir,
      logFile,
      ctl,
      url: spec.url,
      start,
      stop,
      kill,
      isRunning
    } satisfies RabbitNode
  })

/**
 * Starts `size` nodes (at least 2) and joins them into one cluster: the first boots alone, each
 * other one is reset and joins it (`stop_app`, `reset`, `join_cluster`, `start_app`). The vhost is
 * the first node's. Every node keeps its own `stop`/`start`; a node started again rejoins the
 * cluster by itself. Closing the scope stops them all.
 */
export const startCluster = (
  size: number,
  options: Omit<StartNodeOptions, "cookie"> = {}
): Effect.Effect<ReadonlyArray<RabbitNode>, RabbitNodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const cookie = randomCookie()
    const nodes = yield* Effect.all(
      Array.from({ length: Math.max(2, size) }, () => startNode({ ...options, cookie })),
      { concurrency: "unbounded" }
    )
    const [first, ...others] = nodes
    for (const node of others) {
      for (const args of [["stop_app"], ["reset"], ["join_cluster", first.nodeName], ["start_app"]]) {
        yield* Rabbitmqctl.run(args, { ...node.ctl, timeoutMs: 60_000 }).pipe(
          Effect.mapError((error) =>
            new RabbitNodeError({ nodeName: node.nodeName, message: `cannot join ${first.nodeName}: ${error.message}` })
          ),
          withLiveClock
        )
      }
    }
    return nodes
  })
