/**
 * Rollbacks end to end on the real stream: a randomised history from several users, `rplace mod rollback`
 * (the CLI, as an operator runs it), and afterwards every projection (Redis bitmap, Postgres history, the
 * edge's in-memory canvas) agrees with the oracle computed from the same events by `replay`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { applyStreams } from '../../streams/apply.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createNatsModerationLog } from '../../src/adapters/nats/moderation-log.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { startHistoryApi } from '../../src/roles/history/api.ts';
import { startEdge } from '../../src/roles/edge/start.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { historySchema } from '../../src/config/history.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { EventKind, type CanvasEvent, isPixelEvent } from '../../proto/event-codec.ts';
import { createRollbackPlanner } from '../../src/domain/moderation/plan.ts';
import { executePlan, planFromStream } from '../../src/app/moderation/execute.ts';
import { cleanupCanvas, testEnv, testNames, TEST_NATS_URL, TEST_REDIS_URL } from '../helpers/isolation.ts';
import { sleep } from '../../src/app/sleep.ts';

const W = 16;
const H = 16;
const names = testNames('modrollback');
const env = testEnv(names, {
  CANVAS_WIDTH: String(W),
  CANVAS_HEIGHT: String(H),
  LOG_LEVEL: 'silent',
  SESSION_SECRET: 'moderation-test-secret-0123456789abcdefgh',
  PORT: '0',
  HOST: '127.0.0.1',
  SNAPSHOT_INTERVAL_MS: '100000',
  SNAPSHOT_MAX_EVENTS: '1000',
});
const logger = createLogger('test', 'silent');
let nc: NatsConnection;
let redis: Redis;
const stops: (() => Promise<void>)[] = [];
let edgePort = 0;
let historyRoutes: Awaited<ReturnType<typeof startHistoryApi>>;
const appended: CanvasEvent[] = [];

async function append(events: readonly CanvasEvent[]): Promise<void> {
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  let i = appended.length;
  await Promise.all(events.map((e) => log.append(e, `${e.userId}/${e.requestId}-${i++}`)));
  await log.close();
  appended.push(...events);
}

async function lastSeq(): Promise<number> {
  return createNatsEventStream(nc, names, { canvas: { width: W, height: H, colors: 32 } }).lastSeq();
}

async function streamCanvas(): Promise<{ canvas: Uint8Array; events: CanvasEvent[] }> {
  const events: CanvasEvent[] = [];
  for await (const batch of createNatsEventStream(nc, names, { canvas: { width: W, height: H, colors: 32 } }).read(1, {
    untilSeq: await lastSeq(),
  }))
    events.push(...batch.map((b) => b.event).filter(isPixelEvent));
  return { canvas: replay(createCanvas({ width: W, height: H }), W, events), events };
}

/** What every projection must show: the oracle, from the events by `replay`, without the CLI's help. */
function oracle(events: readonly CanvasEvent[], userId: string, since: number): Uint8Array {
  const canvas = replay(createCanvas({ width: W, height: H }), W, events);
  for (let o = 0; o < W * H; o++) {
    const x = o % W;
    const y = Math.floor(o / W);
    const onPixel = events.filter((e) => e.x === x && e.y === y);
    let k = onPixel.length;
    while (
      k > 0 &&
      onPixel[k - 1]!.userId === userId &&
      onPixel[k - 1]!.kind === EventKind.PixelPlaced &&
      onPixel[k - 1]!.placedAt >= since
    )
      k--;
    if (k < onPixel.length) canvas[o] = k === 0 ? 0 : onPixel[k - 1]!.color;
  }
  return canvas;
}

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mod', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
    ...(input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input }),
  });
}

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  redis = new Redis(TEST_REDIS_URL);
  await applyStreams(nc, names);
  stops.push(await startBitmapProjector(loadConfig(bitmapProjectorSchema, env), logger));
  stops.push(await startHistory(loadConfig(historySchema, env), logger));
  historyRoutes = await startHistoryApi(loadConfig(historySchema, env), logger);
  stops.push(await startEdge(loadConfig(edgeSchema, env), logger, { onListening: (p) => (edgePort = p) }));
}, 60_000);

afterAll(async () => {
  await historyRoutes?.close();
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await cleanupCanvas(names, { nc, redis });
  await nc.close();
  redis.disconnect();
}, 30_000);

describe('rplace mod rollback on the real stream', () => {
  it("restores exactly the oracle's pixels, leaves later placements by others alone, and every projection agrees", async () => {
    const users = ['u_vandal', 'u_alice', 'u_bob'];
    const eventArb = fc.record({
      x: fc.integer({ min: 0, max: W - 1 }),
      y: fc.integer({ min: 0, max: H - 1 }),
      color: fc.integer({ min: 1, max: 31 }),
      user: fc.integer({ min: 0, max: 2 }),
    });
    const [early, late] = fc.sample(
      fc.tuple(
        fc.array(eventArb, { minLength: 150, maxLength: 150 }),
        fc.array(eventArb, { minLength: 250, maxLength: 250 }),
      ),
      { numRuns: 1, seed: 4242 },
    )[0]!;
    const toEvents = (sample: typeof early, phase: string): CanvasEvent[] =>
      sample.map((s, i) => ({
        kind: EventKind.PixelPlaced,
        x: s.x,
        y: s.y,
        color: s.color,
        userId: users[s.user]!,
        requestId: `${phase}${i}`,
        placedAt: Date.now(),
      }));
    await append(toEvents(early, 'a'));
    await sleep(20);
    const since = Date.now();
    await sleep(20);
    // JetStream keeps append order per publisher only loosely under Promise.all; the stream order is the truth
    await append(toEvents(late, 'b'));
    const { events: before } = await streamCanvas();
    const expected = oracle(before, 'u_vandal', since);

    // without a terminal and without --yes: refuses, writes nothing
    const seqBefore = await lastSeq();
    const refused = cli(['rollback', '--user', 'u_vandal', '--since', String(since)]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect(refused.stdout).toMatch(/pixels to change/);
    expect(await lastSeq()).toBe(seqBefore);

    const run = cli(['rollback', '--user', 'u_vandal', '--since', String(since), '--yes', '--as', 'm_test']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const written = Number(/wrote (\d+) events/.exec(run.stdout)?.[1]);
    expect(written).toBeGreaterThan(0);
    expect(await lastSeq()).toBe(seqBefore + written);

    const { canvas: after, events: all } = await streamCanvas();
    expect(Buffer.from(after).equals(Buffer.from(expected))).toBe(true);
    const restores = all.slice(seqBefore);
    expect(
      restores.every((e) => e.kind === EventKind.PixelRestored && e.userId === 'm_test' && /^rb_/.test(e.requestId)),
    ).toBe(true);

    // a second run finds nothing to do
    const again = cli(['rollback', '--user', 'u_vandal', '--since', String(since), '--yes']);
    expect(again.stdout).toMatch(/0 pixels to change/);

    // every projection follows the compensating events
    const last = await lastSeq();
    await expect
      .poll(async () => Number(await redis.get(names.canvasSeqKey)), {
        message: 'the Redis bitmap',
        timeout: 15_000,
        interval: 100,
      })
      .toBeGreaterThanOrEqual(last);
    const bitmap = await redis.getBuffer(names.canvasKey);
    expect(Buffer.from(bitmap!.subarray(0, W * H)).equals(Buffer.from(expected))).toBe(true);

    await expect
      .poll(
        async () =>
          ((await fetch(`http://127.0.0.1:${edgePort}/api/v1/canvas/info`).then((r) => r.json())) as { seq: number })
            .seq,
        { message: 'the edge', timeout: 15_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(last);
    const edgeCanvas = new Uint8Array(
      await (
        await fetch(`http://127.0.0.1:${edgePort}/api/v1/canvas`, { headers: { 'accept-encoding': 'identity' } })
      ).arrayBuffer(),
    );
    expect(Buffer.from(edgeCanvas).equals(Buffer.from(expected))).toBe(true);

    const snapshotRoute = historyRoutes.routes.find((r) => r.path === '/api/v1/history/snapshot')!;
    await expect
      .poll(
        async () => {
          const res = await snapshotRoute.handle({
            method: 'GET',
            path: snapshotRoute.path,
            query: new URLSearchParams({ time: new Date().toISOString() }),
            headers: {},
            remoteAddress: '127.0.0.1',
          });
          return (
            res.status === 200 &&
            Number(res.headers?.['x-rplace-seq']) >= last &&
            Buffer.from(res.body as Uint8Array).equals(Buffer.from(expected))
          );
        },
        { message: 'the history', timeout: 15_000, interval: 100 },
      )
      .toBe(true);
  }, 120_000);

  it('drops a planned pixel that someone places on between the plan and the write', async () => {
    const t0 = Date.now();
    await append([
      { kind: EventKind.PixelPlaced, x: 0, y: 15, color: 5, userId: 'u_vandal2', requestId: 'c1', placedAt: t0 },
      { kind: EventKind.PixelPlaced, x: 1, y: 15, color: 6, userId: 'u_vandal2', requestId: 'c2', placedAt: t0 },
    ]);
    const stream = createNatsEventStream(nc, names, { canvas: { width: W, height: H, colors: 32 } });
    const plan = await planFromStream(stream, createRollbackPlanner(W, H, { userId: 'u_vandal2' }));
    expect(plan.changes.map((c) => [c.x, c.y])).toEqual([
      [0, 15],
      [1, 15],
    ]);
    // someone else paints (1, 15) after the plan was made
    await append([
      { kind: EventKind.PixelPlaced, x: 1, y: 15, color: 9, userId: 'u_carol', requestId: 'c3', placedAt: Date.now() },
    ]);
    const result = await executePlan(plan, stream, createNatsModerationLog(nc, names), {
      width: W,
      moderatorId: 'm_test',
      rollbackId: 'rb_race',
      now: () => Date.now(),
    });
    expect(result).toMatchObject({ applied: 1, superseded: 1, contended: [] });
    const { canvas } = await streamCanvas();
    expect(canvas[15 * W + 1]).toBe(9);
    expect(canvas[15 * W + 0]).not.toBe(5);
  }, 30_000);
});
