/**
 * Per-channel capacities by pattern, as Django's `channel_capacity` setting: glob patterns
 * (`websocket.send*`, `http.request`) or regular expressions, first match wins.
 *
 * @since 0.1.0
 */

/**
 * Capacity overrides: a record of glob pattern to capacity, or a list of `[pattern, capacity]`
 * pairs where a pattern is a glob or a `RegExp`. Globs support `*`, `?` and `[...]`.
 *
 * @since 0.1.0
 * @category models
 */
export type Overrides =
  | Readonly<Record<string, number>>
  | ReadonlyArray<readonly [string | RegExp, number]>

/**
 * The regular expression of a glob pattern, matching whole channel names.
 *
 * @since 0.1.0
 * @category patterns
 */
export const globToRegExp = (glob: string): RegExp => {
  let source = ""
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]
    if (char === "*") source += ".*"
    else if (char === "?") source += "."
    else if (char === "[") {
      const end = glob.indexOf("]", i + 2)
      if (end === -1) {
        source += "\\["
      } else {
        const body = glob.slice(i + 1, end)
        source += `[${body.startsWith("!") ? "^" + body.slice(1) : body}]`
        i = end
      }
    } else source += char.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

const entries = (overrides: Overrides | undefined): ReadonlyArray<readonly [string | RegExp, number]> =>
  Array.isArray(overrides)
    ? (overrides as ReadonlyArray<readonly [string | RegExp, number]>)
    : Object.entries(overrides ?? {})

/**
 * A function from channel name to capacity: the first override whose pattern matches, else the
 * default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolver = (defaultCapacity: number, overrides: Overrides | undefined): (channel: string) => number => {
  const rules = entries(overrides).map(([pattern, capacity]) =>
    [typeof pattern === "string" ? globToRegExp(pattern) : pattern, capacity] as const
  )
  if (rules.length === 0) return () => defaultCapacity
  return (channel) => {
    for (const [pattern, capacity] of rules) {
      pattern.lastIndex = 0
      if (pattern.test(channel)) return capacity
    }
    return defaultCapacity
  }
}

/**
 * Every capacity of the overrides, for validating options.
 *
 * @since 0.1.0
 * @category patterns
 */
export const capacities = (overrides: Overrides | undefined): ReadonlyArray<readonly [string, number]> =>
  entries(overrides).map(([pattern, capacity]) => [String(pattern), capacity] as const)
