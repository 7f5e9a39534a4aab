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
    // On with `--coverage` (npm test passes it): a summary on the console, html and lcov in coverage/ (gitignored).
    // Only code run inside the test workers is counted: roles the e2e tests spawn as child processes are not.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'proto/**/*.ts', 'web/src/**/*.ts', 'streams/**/*.ts', 'migrations/**/*.ts'],
      reporter: ['text-summary', 'html', 'lcov'],
      reportsDirectory: 'coverage',
    },
  },
});
