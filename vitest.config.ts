import { defineConfig } from 'vitest/config';

const shared = {
  setupFiles: ['test/setup/no-secret-leaks.ts'],
  testTimeout: 20_000,
  hookTimeout: 20_000,
  pool: 'forks' as const,
};

/** Suites that assert latency: run after the rest, one file at a time, on a quiet machine. */
const timing = ['test/faults.test.ts', 'test/load.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/build.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: timing,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'timing',
          include: timing,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
