import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files each start their own nats-server; two cores do not gain from more.
    maxWorkers: 2,
    globalSetup: ['test/harness/global-setup.ts'],
    setupFiles: ['test/harness/cleanup.ts'],
  },
});
