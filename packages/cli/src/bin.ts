/**
 * Entry point of the `channel-layer` bin: runs the program on the process's arguments, exits with
 * its status. Ctrl-C (SIGINT) or SIGTERM interrupts the command, which leaves its groups.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import * as Commands from "./Commands.js"
import * as Main from "./Main.js"

Main.program(process.argv.slice(2), process.env).pipe(
  Effect.provide(Commands.layerProcessOutput),
  Effect.provide(Main.layerLogger),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    // Main.layerLogger is the logger (on standard error); runMain's own would add a second one, on
    // standard output.
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : Exit.isInterrupted(exit) ? 0 : 1
      )
  })
)
