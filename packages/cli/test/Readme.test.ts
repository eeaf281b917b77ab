/**
 * The README snippets marked `<!-- snippet: run -->` are programs: each is written under node_modules/.cache/
 * in the repository and run with tsx, and must exit 0 (and print what the marker says, if it
 * says `prints "..."`). So the examples in the docs are the ones that work.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const tsx = join(root, "node_modules/.bin/tsx")
// Under node_modules/.cache: resolves the workspace packages like any file of the repository, and
// stays out of ESLint and TypeScript (the snippets are checked by running them).
const workDir = join(root, "node_modules/.cache/readme-snippets")

const readmes = [
  "README.md",
  ...["packages", "examples"].flatMap((dir) => readdirSync(join(root, dir)).map((name) => join(dir, name, "README.md")))
].filter((path) => existsSync(join(root, path)))

interface Snippet {
  readonly readme: string
  readonly index: number
  readonly code: string
  readonly prints: string | undefined
}

const snippets: Array<Snippet> = readmes.flatMap((readme) => {
  const text = readFileSync(join(root, readme), "utf8")
  const found: Array<Snippet> = []
  const pattern = /<!-- snippet: run(?:, prints "([^"]*)")? -->\s*```ts\n([\s\S]*?)```/g
  for (const match of text.matchAll(pattern)) {
    found.push({ readme, index: found.length + 1, prints: match[1], code: match[2]! })
  }
  return found
})

describe("README snippets", () => {
  it("there are some", () => {
    expect(snippets.length).toBeGreaterThan(0)
  })

  for (const snippet of snippets) {
    it(`${snippet.readme} snippet ${snippet.index} runs`, () => {
      mkdirSync(workDir, { recursive: true })
      const file = join(workDir, `${snippet.readme.replaceAll("/", "_")}-${snippet.index}.ts`)
      writeFileSync(file, snippet.code)
      const result = spawnSync(tsx, ["--conditions=channel-layer-source", file], {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000
      })
      // Compared as an object so a failure shows what the snippet printed.
      expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 })
      if (snippet.prints !== undefined) expect(result.stdout).toContain(snippet.prints)
    }, 90_000)
  }
})
