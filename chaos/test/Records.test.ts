// Reading a record file while its writer appends to it, or after the writer was killed mid-line.
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, expect, it } from "vitest"
import { RecordTail } from "../src/Records.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

it("a tail returns each complete line once, keeps a partial line for later and counts malformed ones", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chaos-records-"))
  dirs.push(dir)
  const file = path.join(dir, "consumer.jsonl")
  const tail = new RecordTail(file)
  expect(Effect.runSync(tail.poll)).toEqual([]) // not written yet

  const arrival = { _tag: "arrival", sender: "producer-1", seq: 0, kind: "direct", at: 5 }
  const line = JSON.stringify(arrival)
  fs.appendFileSync(file, `${line}\nnot json\n${line.slice(0, 10)}`)
  expect(Effect.runSync(tail.poll)).toEqual([arrival])
  expect(tail.malformed).toBe(1)

  fs.appendFileSync(file, `${line.slice(10)}\n`)
  expect(Effect.runSync(tail.poll)).toEqual([arrival])
  expect(Effect.runSync(tail.poll)).toEqual([])
})
