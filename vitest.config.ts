import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault-injection suite has its own config and command (`npm run test:faults`).
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files each own a unique stream, key prefix and schema, so files may run in parallel;
    // two workers match the two cores of a node-svc machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});
