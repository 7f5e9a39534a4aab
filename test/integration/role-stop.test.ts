/**
 * A role stopped at once after it started (SIGTERM during start-up) stops promptly. Found with the test kit:
 * the history projector registered its abort forwarding after an await, so an abort that came during its
 * first load never reached the projection source, and `stop()` hung forever; the NATS projection source
 * and event stream hung too when aborted while their consumer was being created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { publishEvents, randomEvents } from '../helpers/history.ts';
import { cleanupCanvas, testEnv, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';

const names = testNames('rolestop');
const logger = pino({ level: 'silent' });
const env = testEnv(names, { CANVAS_WIDTH: '40', CANVAS_HEIGHT: '30' });
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test role-stop');
  await applyStreams(nc, names);
  await publishEvents(nc, names, randomEvents(3000, 40, 30, Date.now() - 3_600_000, 60_000, 32, 7));
});
afterAll(async () => {
  await cleanupCanvas(names, { nc });
  await nc.close();
});

/** Resolves with how long `stop` took, or 'hung' past `ms`. */
async function stopTime(stop: () => Promise<void>, ms = 15_000): Promise<number | 'hung'> {
  const started = Date.now();
  return Promise.race([
    stop().then(() => Date.now() - started),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms).unref()),
  ]);
}

describe('stopping a role right after it started', () => {
  it('the history projector stops promptly (three times over)', async () => {
    const config = loadConfig(historySchema, env);
    for (let i = 0; i < 3; i++) expect(await stopTime(await startHistory(config, logger))).toBeLessThan(5_000);
  });

  it('the bitmap projector stops promptly (three times over)', async () => {
    const config = loadConfig(bitmapProjectorSchema, env);
    for (let i = 0; i < 3; i++) expect(await stopTime(await startBitmapProjector(config, logger))).toBeLessThan(5_000);
  });
});
