/**
 * `npm start`'s roles in one process (src/roles/dev/roles.ts) on the real NATS, Redis and Postgres: both projections
 * read the stream through ONE shared read (src/app/shared-read.ts), each from its own stored position (issue 13).
 * Events appended while the roles run, and while they are stopped, reach the bitmap (equal to a replay of the
 * stream) and the history position; the stream never gets a durable consumer.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventKind } from '../../proto/event-codec.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { applyPixel, createCanvas } from '../../src/domain/canvas.ts';
import { startAllRoles, type RunningRoles } from '../../src/roles/dev/roles.ts';
import { TEST_SESSION_SECRET } from '../helpers/edge-process.ts';
import {
  cleanupCanvas,
  testEnv,
  testNames,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_REDIS_URL,
} from '../helpers/isolation.ts';

const names = testNames('devroles');
const SIZE = 64;
const env = testEnv(names, {
  CANVAS_WIDTH: String(SIZE),
  CANVAS_HEIGHT: String(SIZE),
  PORT: '0',
  HOST: '127.0.0.1',
  SESSION_SECRET: TEST_SESSION_SECRET,
  LOG_LEVEL: 'silent',
});
const logger = pino({ level: 'silent' });

let nc: NatsConnection;
let redis: Redis;
let db: pg.Client;
let roles: RunningRoles | undefined;
const placed: { x: number; y: number; color: number }[] = [];

async function append(count: number) {
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  try {
    for (let i = 0; i < count; i++) {
      const n = placed.length;
      const pixel = { x: (n * 7) % SIZE, y: (n * 13) % SIZE, color: n % 32 };
      await log.append(
        { kind: EventKind.PixelPlaced, ...pixel, userId: `u${n % 5}`, requestId: `r${n}`, placedAt: Date.now() },
        `devroles-${n}`,
      );
      placed.push(pixel);
    }
  } finally {
    await log.close();
  }
}

/** Waits until the bitmap and the history position both reflect every appended event. */
async function projected() {
  const last = placed.length;
  await vi.waitFor(
    async () => {
      expect(Number(await redis.get(names.canvasSeqKey))).toBe(last);
      const row = await db.query(`SELECT seq FROM "${names.pgSchema}".projection_positions WHERE name = $1`, [
        names.consumers.history,
      ]);
      expect(Number(row.rows[0]?.seq)).toBe(last);
    },
    { timeout: 20_000, interval: 100 },
  );
  const rows = await db.query(`SELECT count(*)::int AS n FROM "${names.pgSchema}".events`);
  expect(rows.rows[0].n).toBe(last);
  const expected = createCanvas({ width: SIZE, height: SIZE });
  for (const p of placed) applyPixel(expected, SIZE, p);
  expect(new Uint8Array((await redis.getBuffer(names.canvasKey))!)).toEqual(expected);
}

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-dev-roles');
  redis = new Redis(TEST_REDIS_URL);
  db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  roles = await startAllRoles(env, logger);
}, 60_000);

afterAll(async () => {
  await roles?.shutdown();
  await cleanupCanvas(names, { nc, redis });
  await db.end();
  redis.disconnect();
  await nc.drain();
});

describe('npm start: one shared read for both projections', () => {
  it('projects what is appended while the roles run, with no durable consumer on the stream', async () => {
    await append(300);
    await projected();
    const jsm = await jetstreamManager(nc);
    const consumers = [];
    for await (const c of jsm.consumers.list(names.stream)) consumers.push(c);
    expect(consumers.length).toBeGreaterThan(0); // the edge's tail and the shared read
    expect(consumers.filter((c) => c.config.durable_name !== undefined)).toEqual([]);
  }, 60_000);

  it('after a restart, both projections catch up from their own positions: nothing lost, nothing twice', async () => {
    await roles!.shutdown();
    roles = undefined;
    await append(200);
    roles = await startAllRoles(env, logger);
    await append(100);
    await projected();
  }, 60_000);
});
