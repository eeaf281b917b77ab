import type { PeerMessage } from "./Peer.js"

/**
 * Everything msgpack carries that JavaScript reads back the same (no whole floats: 2.0 reads as 2):
 * the message the Python peer tests and the interop tests send both ways.
 */
export const ALL_TYPES: PeerMessage = {
  type: "all.types",
  none: null,
  yes: true,
  no: false,
  small: 7,
  negative: -33,
  uint64: 2n ** 64n - 1n,
  int64: -(2n ** 63n),
  safe: Number.MAX_SAFE_INTEGER,
  float: 1.5,
  tiny: 5e-324,
  negativeZero: -0,
  infinity: Infinity,
  nan: NaN,
  text: "h\u00e9llo \u65e5\u672c \u{1F600}",
  empty: "",
  bytes: new Uint8Array([0, 1, 254, 255]),
  noBytes: new Uint8Array(0),
  list: [1, "two", [new Uint8Array([3])], { four: [] }],
  map: { nested: { deeper: [null] } }
}
