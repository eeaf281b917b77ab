import { defineWorkspace } from "vitest/config"

// One project per package; examples and the bench harness join when they have tests.
export default defineWorkspace([
  "packages/*/vitest.config.ts",
  "examples/*/vitest.config.ts",
  "bench/vitest.config.ts"
])
