/**
 * Probing and starting services against the real binaries. The shared services are only probed; every
 * service this file starts is private (free port, temp dir) and stopped here.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeService } from '../../src/adapters/services/probe.ts';
import { startLocalNats, startLocalPostgres, startLocalRedis } from '../../src/adapters/services/local.ts';
import { TEST_DATABASE_URL, TEST_NATS_URL, TEST_REDIS_URL } from '../helpers/isolation.ts';
import { freePort } from '../kit/free-port.ts';

const dir = mkdtempSync(join(tmpdir(), 'rplace-services-'));
// The postgres user (initdb as root) must be able to reach its data dir.
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probing the shared services', () => {
  it('sees NATS with JetStream, Redis and Postgres up', async () => {
    const [nats, redis, postgres] = await Promise.all([
      probeService('nats', TEST_NATS_URL),
      probeService('redis', TEST_REDIS_URL),
      probeService('postgres', TEST_DATABASE_URL),
    ]);
    expect(nats).toMatchObject({ up: true, detail: expect.stringContaining('JetStream') });
    expect(redis.up).toBe(true);
    expect(postgres.up).toBe(true);
  });

  it('reports a closed port as down, with the reason', async () => {
    const port = await freePort();
    for (const kind of ['nats', 'redis', 'postgres'] as const) {
      const result = await probeService(kind, `${kind === 'postgres' ? 'postgres' : kind}://127.0.0.1:${port}`);
      expect(result).toEqual({ up: false, reason: `nothing listens on 127.0.0.1:${port}`, occupied: false });
    }
  });

  it('reports a different service on the port as not that service', async () => {
    const result = await probeService('redis', TEST_NATS_URL);
    expect(result).toEqual({ up: false, reason: '127.0.0.1:4222 answered, but not as Redis', occupied: true });
  });
});

describe('starting private services', () => {
  it('starts nats-server with JetStream and stops it', async () => {
    const port = await freePort();
    const nats = await startLocalNats({ port, storeDir: join(dir, 'nats'), logFile: join(dir, 'nats.log') });
    try {
      expect((await probeService('nats', nats.url)).up).toBe(true);
    } finally {
      await nats.stop();
    }
    expect((await probeService('nats', nats.url)).up).toBe(false);
  });

  it('starts redis-server and stops it', async () => {
    const port = await freePort();
    const redis = await startLocalRedis({ port, dir: join(dir, 'redis'), logFile: join(dir, 'redis.log') });
    try {
      expect((await probeService('redis', redis.url)).up).toBe(true);
    } finally {
      await redis.stop();
    }
    expect((await probeService('redis', redis.url)).up).toBe(false);
  });

  it('initialises and starts a Postgres (as the postgres user when root) with the database, then stops it', async () => {
    const port = await freePort();
    const postgres = await startLocalPostgres({ port, dataDir: join(dir, 'pg'), database: 'rplace_dev' });
    try {
      expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${port}/rplace_dev`);
      expect((await probeService('postgres', postgres.url)).up).toBe(true);
    } finally {
      await postgres.stop();
    }
    expect((await probeService('postgres', postgres.url)).up).toBe(false);
  }, 60_000);
});
