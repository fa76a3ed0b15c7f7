import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The app (raffle/, pipelines/) imports the framework as 'sluice', as any app does; in the
    // tests that is the TypeScript source, the same modules the tests import.
    alias: { sluice: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Memory and abort tests spawn the CLI; two cores run two files at a time.
    maxWorkers: 2,
  },
});
