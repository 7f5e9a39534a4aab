import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite (`npm run test:faults`): whole topologies as child processes under load, one
 * fault at a time. Files run one after another: each spawns a NATS cluster and the roles, which is all
 * a 2-core machine can take at once.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    // FAULT_LOAD=peak holds each fault until 100,000 acks (minutes on a shared machine): test/faults/harness.ts.
    testTimeout: process.env.FAULT_LOAD === 'peak' ? 1_800_000 : 300_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
