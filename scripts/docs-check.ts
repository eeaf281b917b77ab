/**
 * The docs check (npm run docs:check): every ```ts block in the JSDoc of the published packages'
 * sources is written to a file of its own under node_modules/.cache/docs-examples and the lot
 * type-checked with the repository's strict settings, so the examples the API reference shows
 * compile. A block whose first line is `// sketch: not compiled` is a deliberate fragment and is
 * skipped (it says so to the reader too). Fails if no block is found, so it cannot pass vacuously.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const say = (line: string) => process.stdout.write(`${line}\n`)
const complain = (line: string) => process.stderr.write(`${line}\n`)

const root = fileURLToPath(new URL("../", import.meta.url))
const packages = ["core", "rabbitmq", "zeromq", "cli"]
const workDir = join(root, "node_modules/.cache/docs-examples")

const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : []
  })

interface Block {
  readonly file: string
  readonly line: number
  readonly code: string
}

const blocks: Array<Block> = []
let sketches = 0
for (const pkg of packages) {
  for (const file of sources(join(root, "packages", pkg, "src"))) {
    const lines = readFileSync(file, "utf8").split("\n")
    let start = -1
    let body: Array<string> = []
    lines.forEach((text, index) => {
      const inComment = /^\s*\*( |$)/.exec(text)
      if (inComment === null) return
      const content = text.replace(/^\s*\* ?/, "")
      if (start < 0 && /^```ts\s*$/.test(content)) {
        start = index + 1
        body = []
      } else if (start >= 0 && /^```\s*$/.test(content)) {
        if (body[0]?.trim() === "// sketch: not compiled") sketches++
        else blocks.push({ file: relative(root, file), line: start, code: body.join("\n") + "\n" })
        start = -1
      } else if (start >= 0) {
        body.push(content)
      }
    })
  }
}

if (blocks.length === 0) {
  complain("docs check: no ```ts block found in the JSDoc; the extraction is broken")
  process.exit(1)
}

rmSync(workDir, { recursive: true, force: true })
mkdirSync(workDir, { recursive: true })
const names = blocks.map((block, index) => {
  const name = `${String(index + 1).padStart(2, "0")}-${
    block.file.replaceAll("/", "_").replace(/\.ts$/, "")
  }-${block.line}.ts`
  // Each file a module of its own, so examples may declare the same names.
  writeFileSync(join(workDir, name), `${block.code}export {}\n`)
  return name
})
writeFileSync(
  join(workDir, "tsconfig.json"),
  JSON.stringify(
    {
      extends: join(root, "tsconfig.base.json"),
      compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false },
      files: names
    },
    null,
    2
  )
)
const tsc = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", join(workDir, "tsconfig.json")], {
  cwd: root,
  encoding: "utf8"
})
const report = `${tsc.stdout}${tsc.stderr}`.replaceAll(`${relative(root, workDir)}/`, "")
if (tsc.status !== 0) {
  complain(report)
  complain(`docs check: the examples above do not compile (files in ${relative(root, workDir)}):`)
  for (const [index, block] of blocks.entries()) complain(`  ${names[index]}: ${block.file}:${block.line}`)
  process.exit(1)
}
say(`docs check: ${blocks.length} examples from the JSDoc compile (${sketches} marked as sketches skipped)`)
