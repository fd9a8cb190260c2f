import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/**/*.test.ts',
      'runtime-shims/**/*.test.ts',
      'gateway/**/*.test.ts',
      'apis/**/*.test.ts',
      'controller/**/*.test.ts',
      'kube/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts real processes; two cores run two files at a time comfortably.
    maxWorkers: 2,
    // Polls wait on real processes; a loaded 2-core machine needs more than vitest's 1 s default.
    expect: { poll: { timeout: 10_000, interval: 50 } },
    // CI runs real brokers, clusters and runtimes on a shared 2-core machine, where one slow scrape or
    // re-sent batch can fail a test that is right. A failing test is run again up to twice there; the
    // flaky reporter prints every test that needed it, so a flake is seen and fixed, not hidden.
    retry: process.env.CI ? 2 : 0,
    reporters: ['default', './test/support/flaky-reporter.ts'],
  },
});
