/**
 * Standard input of the CLI. Standard output carries only what a command prints (`listen`'s JSON
 * lines, `self-test passed`, the help); standard error carries the log, one logfmt line per entry
 * (`CommandLine.layerLogger` of core), and the lines meant for people (`listening on ...`,
 * errors).
 *
 * @since 0.1.0
 */
import { NodeStream } from "@effect/platform-node"
import { Context, Effect, Stream } from "effect"

/**
 * All of standard input, read when a command is given `-` as its MESSAGE.
 *
 * @since 0.1.0
 * @category services
 */
export class Stdin extends Context.Reference<Stdin>()("@channel-layer/cli/Stdin", {
  defaultValue: (): { readonly readAll: Effect.Effect<string> } => ({
    readAll: NodeStream.stdin.pipe(Stream.decodeText(), Stream.mkString)
  })
}) {}
