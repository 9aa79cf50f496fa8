import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Most of the run is waiting on throwaway servers and leases, not CPU: two files at a time
    // (Vitest's default on a 2-core machine is one).
    maxWorkers: 2,
  },
});
