/**
 * `npm run bench:summary -- first.json second.json ...`: prints the Markdown table of the first
 * run with ranges over all of them (see `Summary`), then how often each target was met.
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import type { Report } from "./Report.js"
import { markdown, targetsMet } from "./Summary.js"

const files = process.argv.slice(2)
if (files.length === 0) {
  process.stderr.write("usage: npm run bench:summary -- first.json [more.json ...]\n")
  process.exit(2)
}
const runs = await Promise.all(files.map(async (file) => JSON.parse(await readFile(file, "utf8")) as Report))
process.stdout.write(`${markdown(runs[0], runs)}\n\n${targetsMet(runs).map((line) => `- ${line}`).join("\n")}\n`)
