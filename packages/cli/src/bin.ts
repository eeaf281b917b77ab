/**
 * Entry point of the `channel-layer` bin. `NodeRuntime.runMain` interrupts the command on SIGINT
 * (Ctrl-C) or SIGTERM: `listen` leaves its groups and the layer closes before the process exits.
 *
 * @since 0.1.0
 */
import * as CommandLine from "@channel-layer/core/CommandLine"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "./Cli.js"

Cli.run(process.argv.slice(2)).pipe(
  CommandLine.plainUnlessTerminal,
  Effect.provide(Cli.layer),
  NodeRuntime.runMain({
    // Cli.run reports errors itself; CommandLine.layerLogger is the only logger (runMain's would write to stdout).
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(Cli.exitCode(exit))
  })
)
