/**
 * Opt-in replica acks for cooldowns (`COOLDOWN_REPLICA_ACKS`, issue 17 deliverable 3), on a private Redis
 * primary and replica (own redis-server processes on h-sizing's ports 22201/22202). The replica is frozen
 * with SIGSTOP (its pid from `INFO server`) so "a replica holds the write" is decided by us, not by how fast
 * replication happens to be on this machine:
 *
 * - replica frozen, short wait: the acquisition is still granted (the primary holds it) and reported unacked;
 * - replica frozen, long wait: the acquisition does not answer while the replica cannot hold it; once thawed
 *   it answers, and a failover right then (replica promoted, primary killed -9) keeps the cooldown: the same
 *   user is refused on the promoted replica, holder = the first request. Without the option the acquisition
 *   answers while the replica is frozen, and this test fails at "not answered yet";
 * - replica frozen, acquisitions in five turns: two WAITs (the first turn, then the four queued behind it),
 *   not five: a replica that does not answer costs each acquisition at most two waits;
 * - the edge role with the option: a placement succeeds, through a Redis connection of the cooldowns' own.
 *
 * Nothing here is timed: the only wait is a bounded poll for "the replica link is up" and one turn of
 * 300 ms to give a wrongly unacked acquisition the chance to answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCooldownStore } from '../../src/adapters/redis/cooldown-store.ts';
import { startLocalRedis, type LocalService } from '../../src/adapters/services/local.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { CooldownResult } from '../../src/ports/cooldown.ts';
import { startEdge } from '../../src/roles/edge/start.ts';
import { nodeClient } from '../helpers/edge-process.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';

const PRIMARY_PORT = 22201;
const REPLICA_PORT = 22202;
const names = testNames('hsizingack');
const pixel = { x: 1, y: 2, color: 3 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let primary: LocalService | undefined;
let replica: LocalService | undefined;
let primaryRedis: Redis;
let replicaAdmin: Redis;
let replicaPid = 0;
let frozen = false;

async function linkUp(redis: Redis, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/master_link_status:up/.test(await redis.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the replica never synced with the primary');
    await sleep(100);
  }
}

function freeze(on: boolean): void {
  process.kill(replicaPid, on ? 'SIGSTOP' : 'SIGCONT');
  frozen = on;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'h-sizing-replica-ack-'));
  primary = await startLocalRedis({ port: PRIMARY_PORT, dir: join(dir, 'primary'), logFile: join(dir, 'primary.log') });
  replica = await startLocalRedis({ port: REPLICA_PORT, dir: join(dir, 'replica'), logFile: join(dir, 'replica.log') });
  replicaAdmin = new Redis(replica.url);
  await replicaAdmin.replicaof('127.0.0.1', PRIMARY_PORT);
  await linkUp(replicaAdmin);
  replicaPid = Number(/process_id:(\d+)/.exec(await replicaAdmin.info('server'))?.[1]);
  expect(replicaPid).toBeGreaterThan(0);
  primaryRedis = new Redis(primary.url, { maxRetriesPerRequest: 1 });
  primaryRedis.on('error', () => undefined);
});

afterAll(async () => {
  if (frozen) freeze(false);
  await cleanupCanvas(names, { redis: replicaAdmin }).catch(() => undefined); // the stream on the shared NATS
  primaryRedis?.disconnect();
  replicaAdmin?.disconnect();
  await primary?.stop().catch(() => undefined);
  await replica?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('COOLDOWN_REPLICA_ACKS: a cooldown acknowledged by a replica survives a failover', () => {
  it('a replica that cannot ack in time: the cooldown is granted on the primary and reported unacked', async () => {
    const unacked: [number, number][] = [];
    const store = createRedisCooldownStore(primaryRedis, names, {
      replicaAcks: { replicas: 1, timeoutMs: 100, onUnacked: (n, a) => unacked.push([n, a]) },
    });
    freeze(true);
    try {
      const result = await store.tryAcquire('u_short', 'r_short', Date.now(), 60, pixel);
      expect(result.acquired).toBe(true);
    } finally {
      freeze(false);
    }
    expect(unacked).toEqual([[1, 0]]);
    await linkUp(replicaAdmin);
  });

  it('a replica that does not answer: acquisitions of later turns wait together, one WAIT in flight at a time', async () => {
    const unacked: number[] = [];
    const store = createRedisCooldownStore(primaryRedis, names, {
      replicaAcks: { replicas: 1, timeoutMs: 300, onUnacked: (n) => unacked.push(n) },
    });
    await primaryRedis.config('RESETSTAT');
    freeze(true);
    try {
      const turns: Promise<CooldownResult>[] = [];
      for (let i = 0; i < 5; i++) {
        turns.push(store.tryAcquire(`u_turn${i}`, `r_turn${i}`, Date.now(), 60, pixel));
        await new Promise((r) => setImmediate(r)); // the next acquisition in another event-loop turn
      }
      expect((await Promise.all(turns)).every((r) => r.acquired)).toBe(true);
    } finally {
      freeze(false);
    }
    const waits = Number(/cmdstat_wait:calls=(\d+)/.exec(await primaryRedis.info('commandstats'))?.[1] ?? 0);
    expect(waits, 'the first turn, then the four that queued behind it').toBe(2);
    expect(unacked).toEqual([1, 4]);
    await linkUp(replicaAdmin);
  });

  it('the edge role with COOLDOWN_REPLICA_ACKS=1 places through a cooldown connection of its own', async () => {
    const config = loadConfig(
      edgeSchema,
      testEnv(names, {
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: primary!.url,
        HISTORY_API: '0',
        SESSION_SECRET: 'h-sizing-replica-ack-secret-0123456789abcdef',
        CANVAS_WIDTH: '32',
        CANVAS_HEIGHT: '32',
        COOLDOWN_SECONDS: '60',
        LOG_LEVEL: 'silent',
        ALLOW_GUEST_PLACEMENT: '1',
        COOLDOWN_REPLICA_ACKS: '1',
        COOLDOWN_REPLICA_WAIT_MS: '1000',
      }),
    );
    let port = 0;
    const stop = await startEdge(config, createLogger('edge', 'silent'), { onListening: (p) => (port = p) });
    const client = nodeClient(`http://127.0.0.1:${port}`, { trackCanvas: false, placeTimeoutMs: 10_000 });
    try {
      await client.connect();
      await client.synced();
      expect((await client.place(3, 4, 1)).type).toBe('success');
      const clients = (await primaryRedis.client('LIST')) as string;
      expect(clients).toContain(`name=rplace-edge-cooldowns-${names.canvasId}`);
    } finally {
      client.close();
      await stop();
    }
  });

  it('answers only once the replica holds it; the promoted replica then refuses the same user', async () => {
    const unacked: number[] = [];
    const store = createRedisCooldownStore(primaryRedis, names, {
      replicaAcks: { replicas: 1, timeoutMs: 20_000, onUnacked: (n) => unacked.push(n) },
    });
    freeze(true);
    let answer: CooldownResult | undefined;
    const pending = store.tryAcquire('u_fail', 'r_first', Date.now(), 60, pixel).then((r) => (answer = r));
    try {
      await sleep(300);
      expect(answer, 'not answered yet: no replica holds the cooldown').toBeUndefined();
    } finally {
      freeze(false);
    }
    expect((await pending).acquired).toBe(true);
    // The failover, right after the acknowledged acquisition: the link is cut, the primary killed.
    await replicaAdmin.replicaof('NO', 'ONE');
    primary!.kill();
    expect(unacked).toEqual([]);

    const promoted = createRedisCooldownStore(replicaAdmin, names);
    const again = await promoted.tryAcquire('u_fail', 'r_second', Date.now(), 60, pixel);
    expect(again.acquired, 'the cooldown survived the failover').toBe(false);
    if (!again.acquired) expect(again.holderRequestId).toBe('r_first');
    expect(await promoted.remainingMs('u_fail')).toBeGreaterThan(0);
  });
});
