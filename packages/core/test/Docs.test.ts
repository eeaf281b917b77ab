import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

// Every export of every package's public modules carries a JSDoc with @since (and, for
// declarations other than the module barrels, @category), as the project's conventions ask.
const packagesDir = new URL("../../", import.meta.url).pathname

// A private workspace (test support, never published) has no public modules.
const isPrivate = (pkg: string): boolean => {
  try {
    return JSON.parse(readFileSync(join(packagesDir, pkg, "package.json"), "utf8")).private === true
  } catch {
    return false
  }
}

const publicModules = (): Array<string> =>
  readdirSync(packagesDir).flatMap((pkg) => {
    if (isPrivate(pkg)) return []
    const src = join(packagesDir, pkg, "src")
    try {
      return readdirSync(src).filter((file) => file.endsWith(".ts")).map((file) => join(src, file))
    } catch {
      return []
    }
  })

const undocumented = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true)
  const problems: Array<string> = []
  const isBarrel = file.endsWith("index.ts")
  for (const statement of source.statements) {
    const exported = ts.canHaveModifiers(statement) &&
      ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    const isReExport = ts.isExportDeclaration(statement)
    if (!exported && !isReExport) continue
    const tags = ts.getJSDocTags(statement).map((tag) => tag.tagName.text)
    const jsdoc = (statement as { jsDoc?: Array<ts.JSDoc> }).jsDoc ?? []
    const allTags = new Set([...tags, ...jsdoc.flatMap((doc) => (doc.tags ?? []).map((tag) => tag.tagName.text))])
    const name = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((d) => d.name.getText()).join(",")
      : (statement as { name?: ts.Node }).name?.getText() ?? statement.getText().slice(0, 40)
    if (!allTags.has("since")) problems.push(`${name}: no @since`)
    if (!isBarrel && !isReExport && !allTags.has("category")) problems.push(`${name}: no @category`)
  }
  return problems
}

describe("documentation", () => {
  for (const file of publicModules()) {
    it(`every export of ${file.slice(packagesDir.length)} has @since and @category`, () => {
      expect(undocumented(file)).toStrictEqual([])
    })
  }
})
