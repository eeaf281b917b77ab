import type { ViteUserConfig } from "vitest/config"

/**
 * Settings every project shares: resolve workspace packages to their TypeScript sources
 * (the `channel-layer-source` export condition) so tests never need a build first.
 */
export const shared: ViteUserConfig = {
  resolve: { conditions: ["channel-layer-source"] },
  ssr: { resolve: { conditions: ["channel-layer-source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
}
