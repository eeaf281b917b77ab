import { defineConfig } from "vitest/config"

// One project per package, example, the bench harness and the chaos run (each has its own vitest.config.ts).
// This is the "vitest workspace"; vitest 3.2 deprecated the separate
// vitest.workspace.ts file in favour of `test.projects`.
export default defineConfig({
  test: {
    projects: [
      "packages/*/vitest.config.ts",
      "examples/*/vitest.config.ts",
      "bench/vitest.config.ts*",
      "chaos/vitest.config.ts"
    ]
  }
})
