/**
 * Every role starts and stops through src/roles/lifecycle.ts: a stopped role leaves no socket or timer of its
 * own behind, and a role whose second connect fails closes the first before the error reaches run-role.ts.
 * Open handles are counted with `process.getActiveResourcesInfo()` (this file's worker only).
 */
import { createConnection } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { ServiceUnreachable } from '../../src/ports/errors.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startEdge } from '../../src/roles/edge/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';

const logger = pino({ level: 'silent' });
const names = testNames('hclifecycle');
const size = { CANVAS_WIDTH: '32', CANVAS_HEIGHT: '32' };
/** Nothing listens there (the h-compose range of fixed ports). */
const DEAD_REDIS = 'redis://127.0.0.1:21201';
const DEAD_PG = 'postgres://postgres@127.0.0.1:21202/test';
/** An edge on an ephemeral port of 127.0.0.1, `extra` on top. */
const edgeConfig = (extra: Record<string, string> = {}) =>
  loadConfig(
    edgeSchema,
    testEnv(names, {
      ...size,
      PORT: '0',
      HOST: '127.0.0.1',
      SESSION_SECRET: 'h-compose-lifecycle-secret-0123456789',
      LOG_LEVEL: 'silent',
      ...extra,
    }),
  );

/** Sockets and timers this worker holds, by kind. */
function handles(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((k) => k === 'TCPSocketWrap' || k === 'TCPServerWrap').length,
    timers: info.filter((k) => k === 'Timeout').length,
  };
}

/** Handles settle a tick after a close (socket 'close' events); wait for the count to come back. */
async function expectBackTo(baseline: { sockets: number; timers: number }): Promise<void> {
  await expect.poll(() => handles().sockets, { timeout: 5_000, interval: 50 }).toBeLessThanOrEqual(baseline.sockets);
  await expect.poll(() => handles().timers, { timeout: 5_000, interval: 50 }).toBeLessThanOrEqual(baseline.timers);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

let baseline: { sockets: number; timers: number };

beforeAll(() => {
  baseline = handles();
});

afterAll(async () => {
  await cleanupCanvas(names);
});

it('a bitmap projector started and stopped leaves no socket or timer open', async () => {
  const stop = await startBitmapProjector(loadConfig(bitmapProjectorSchema, testEnv(names, size)), logger);
  expect(handles().sockets).toBeGreaterThan(baseline.sockets); // NATS and Redis really are open
  await stop();
  await expectBackTo(baseline);
});

it('a history role started and stopped leaves no socket or timer open', async () => {
  const stop = await startHistory(
    loadConfig(historySchema, testEnv(names, { ...size, SNAPSHOT_INTERVAL_MS: '200' })),
    logger,
  );
  expect(handles().sockets).toBeGreaterThan(baseline.sockets);
  await stop();
  await expectBackTo(baseline);
});

it('an edge started and stopped closes its listen socket and leaves no socket or timer open', async () => {
  let port = 0;
  const config = edgeConfig();
  const stop = await startEdge(config, logger, { onListening: (p) => (port = p) });
  expect(port).toBeGreaterThan(0);
  expect(await refused(port)).toBe(false);
  await stop();
  expect(await refused(port)).toBe(true);
  await expectBackTo(baseline);
});

it('a bitmap projector whose Redis is unreachable closes its NATS connection and rejects with ServiceUnreachable', async () => {
  const config = loadConfig(bitmapProjectorSchema, testEnv(names, { ...size, REDIS_URL: DEAD_REDIS }));
  await expect(startBitmapProjector(config, logger)).rejects.toBeInstanceOf(ServiceUnreachable);
  await expectBackTo(baseline);
});

it('an edge whose Redis is unreachable closes its NATS connection and rejects with ServiceUnreachable', async () => {
  const config = edgeConfig({ REDIS_URL: DEAD_REDIS });
  await expect(startEdge(config, logger)).rejects.toBeInstanceOf(ServiceUnreachable);
  await expectBackTo(baseline);
});

it('a history role whose NATS is unreachable ends its Postgres pool and rejects with ServiceUnreachable', async () => {
  const config = loadConfig(historySchema, testEnv(names, { ...size, NATS_URL: 'nats://127.0.0.1:21203' }));
  await expect(startHistory(config, logger)).rejects.toBeInstanceOf(ServiceUnreachable);
  await expectBackTo(baseline);
});

it('a history role whose Postgres is unreachable rejects with ServiceUnreachable and opens nothing', async () => {
  const config = loadConfig(historySchema, testEnv(names, { ...size, DATABASE_URL: DEAD_PG }));
  await expect(startHistory(config, logger)).rejects.toBeInstanceOf(ServiceUnreachable);
  await expectBackTo(baseline);
});
