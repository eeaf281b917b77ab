/**
 * Fewer system calls per message: amqplib writes every frame to the socket on its own (one
 * `write` per publish, per ack, per frame), and with Nagle off each becomes a system call. Corking
 * the socket at the first write of a turn of the event loop and uncorking it at the end of that
 * turn sends them together in one `writev`, without delaying any of them past the turn (amqplib
 * itself already defers its writes to the end of the turn).
 */
import type { ChannelModel } from "amqplib"

interface Corkable {
  write: (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean
  cork: () => void
  uncork: () => void
}

const isCorkable = (stream: unknown): stream is Corkable =>
  typeof stream === "object" && stream !== null &&
  typeof (stream as Corkable).write === "function" &&
  typeof (stream as Corkable).cork === "function" &&
  typeof (stream as Corkable).uncork === "function"

/** Wraps the connection's socket so the writes of one turn go out together. */
export const coalesceWrites = (model: ChannelModel): void => {
  // amqplib keeps the socket on its (undocumented) connection object; without it, do nothing.
  const stream = (model.connection as unknown as { stream?: unknown }).stream
  if (!isCorkable(stream)) return
  const write = stream.write.bind(stream)
  let corked = false
  const uncork = () => {
    corked = false
    stream.uncork()
  }
  // Fixed arity (amqplib passes a Buffer, or a Buffer and a callback): no arguments array per write.
  stream.write = (chunk, encoding, callback) => {
    if (!corked) {
      corked = true
      stream.cork()
      process.nextTick(uncork)
    }
    return write(chunk, encoding, callback)
  }
}
