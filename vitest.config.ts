import { defineConfig } from 'vitest/config';

// One run covers every package. Source is resolved through the `@webox/source` export condition,
// so tests never need a build of the workspace packages they import.
export default defineConfig({
  resolve: { conditions: ['@webox/source'] },
  ssr: { resolve: { conditions: ['@webox/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/web/e2e/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['packages/server/src/testing/pglite-template.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for what comes eventually (a row, a page's update): 1 s, Vitest's default, is short on two
    // shared cores; a poll that passes at once is as fast as before.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
