import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * The clusters run on nats-server 2.10.27 (scripts/fetch-nats-server.mjs: pinned, cached in .cache/), the
 * release line we deploy, not Debian 12's 2.9.10, whose partitioned leader loses acknowledged writes.
 * NATS_SERVER_BIN set by the caller wins (e.g. to reproduce on 2.9.10: NATS_SERVER_BIN=/usr/sbin/nats-server).
 */
const natsServer =
  process.env.NATS_SERVER_BIN ||
  execFileSync(process.execPath, ['scripts/fetch-nats-server.mjs'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();

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
    env: { NATS_SERVER_BIN: natsServer },
  },
});
