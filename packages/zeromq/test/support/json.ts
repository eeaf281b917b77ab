/** JSON that carries bytes: a Uint8Array travels as {"$bytes": "<base64>"}. */
export const stringify = (value: unknown): string =>
  JSON.stringify(value, (_key, item) =>
    item instanceof Uint8Array
      ? { $bytes: Buffer.from(item).toString("base64") }
      : typeof item === "bigint"
      ? { $bigint: item.toString() }
      : item)

export const parse = (text: string): any =>
  JSON.parse(text, (_key, item) =>
    item !== null && typeof item === "object" && typeof item.$bytes === "string"
      ? new Uint8Array(Buffer.from(item.$bytes, "base64"))
      : item !== null && typeof item === "object" && typeof item.$bigint === "string"
      ? BigInt(item.$bigint)
      : item)
