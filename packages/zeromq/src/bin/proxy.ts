/**
 * The `channel-layer-zmq-proxy` program: parses the command line, runs `ZeroMQProxy.run` and stops
 * it cleanly on SIGINT, SIGTERM, or when the launcher that started it goes away.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Fiber, Logger, LogLevel } from "effect"
import { readFileSync } from "node:fs"
import * as zmq from "zeromq"
import * as Cli from "../internal/Cli.js"
import * as ZeroMQProxy from "../ZeroMQProxy.js"

const levels: Record<Cli.LogLevel, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error
}

const readKeys = (args: Cli.RunArguments) =>
  Effect.try({
    try: () => ({
      secretKey: args.curveSecretKeyFile === undefined
        ? args.curveSecretKey
        : Cli.keysOf(readFileSync(args.curveSecretKeyFile, "utf8"))[0],
      authorizedKeys: [
        ...args.curveAuthorizedKeys,
        ...(args.curveAuthorizedKeysFile === undefined
          ? []
          : Cli.keysOf(readFileSync(args.curveAuthorizedKeysFile, "utf8")))
      ]
    }),
    catch: (error) => `cannot read a key file: ${error instanceof Error ? error.message : String(error)}`
  })

const program = (args: Cli.RunArguments) =>
  Effect.gen(function*() {
    const keys = yield* readKeys(args)
    const curve = keys.secretKey === undefined
      ? undefined
      : {
        secretKey: keys.secretKey,
        ...(keys.authorizedKeys.length > 0 ? { authorizedKeys: keys.authorizedKeys } : {})
      }
    if (curve === undefined && keys.authorizedKeys.length > 0) {
      return yield* Effect.fail("--curve-authorized-key needs --curve-secret-key (or --curve-secret-key-file)")
    }
    return yield* ZeroMQProxy.run({
      pullAddress: args.pullAddress,
      publishAddress: args.publishAddress,
      ...(curve === undefined ? {} : { curve }),
      ...(args.sendHighWaterMark === undefined ? {} : { sendHighWaterMark: args.sendHighWaterMark }),
      ...(args.receiveHighWaterMark === undefined ? {} : { receiveHighWaterMark: args.receiveHighWaterMark }),
      ...(args.holdTimeoutMillis === undefined ? {} : { holdTimeout: Duration.millis(args.holdTimeoutMillis) }),
      ...(args.settleMillis === undefined ? {} : { settle: Duration.millis(args.settleMillis) }),
      ...(args.statsIntervalSeconds === undefined ? {} : { statsInterval: Duration.seconds(args.statsIntervalSeconds) })
    })
  }).pipe(Logger.withMinimumLogLevel(levels[args.logLevel]))

const parsed = Cli.parse(process.argv.slice(2))
if (parsed._tag === "Left") {
  console.error(`channel-layer-zmq-proxy: ${parsed.left}\n\n${Cli.usage}`)
  process.exitCode = 2
} else if (parsed.right._tag === "Help") {
  console.log(Cli.usage)
} else if (parsed.right._tag === "GenerateKeyPair") {
  console.log(JSON.stringify(zmq.curveKeyPair()))
} else {
  // Started by the launcher with an IPC channel: stop when the launcher goes away (even killed),
  // and do not let the channel itself keep the process alive.
  process.channel?.unref()
  const fiber = Effect.runFork(program(parsed.right.arguments))
  const stop = () => Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  if (process.send !== undefined) process.once("disconnect", stop)
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      const failure = Cause.failureOption(exit.cause)
      console.error(
        `channel-layer-zmq-proxy: ${
          failure._tag === "Some"
            ? (typeof failure.value === "string" ? failure.value : failure.value.message)
            : Cause.pretty(exit.cause)
        }`
      )
      process.exitCode = 1
    }
  })
}
