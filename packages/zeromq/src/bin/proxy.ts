/**
 * The `channel-layer-zmq-proxy` program. `NodeRuntime.runMain` interrupts it on SIGINT or SIGTERM:
 * the proxy's scope closes, its sockets with it, before the process exits. Started with an IPC
 * channel (by the bin's launcher, or a test harness), it also stops when that channel closes: the
 * process that started it is gone, even killed.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "../internal/Cli.js"

/** Succeeds when the IPC channel to the parent closes; never without one. */
const parentGone = process.send === undefined ? Effect.never : Effect.async<void>((resume) => {
  // The channel itself must not keep the process alive once the program is done.
  process.channel?.unref()
  const gone = () => resume(Effect.void)
  process.once("disconnect", gone)
  return Effect.sync(() => process.off("disconnect", gone))
})

Effect.raceFirst(Cli.runCli(process.argv.slice(2)), parentGone).pipe(
  Cli.plainUnlessTerminal,
  Effect.provide(Cli.layer),
  NodeRuntime.runMain({
    // Cli.runCli reports errors itself; Cli.layer's logger is the only one (runMain's would write to stdout).
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(Cli.exitCode(exit))
  })
)
