/**
 * A permanent failure does not wedge a projection in a retry loop (issue 11: x = 65535 overflowed Postgres'
 * smallint and history retried that batch forever while /healthz said ok). On the real Postgres and NATS:
 * the store classifies Postgres' refusal of the data as `StoreRejected`; the history projector halts with
 * `ProjectionHalted` after one attempt; the projection source ends instead of redelivering; and the
 * process's health check turns unhealthy. (The events here skip `checkStoredEvent` on purpose: they stand
 * for a bug behind it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { EventKind } from '../../proto/event-codec.ts';
import { metrics, projectionsHealthy } from '../../src/adapters/metrics.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { ProjectionHalted, StoreRejected } from '../../src/ports/errors.ts';
import { createHistoryProjector } from '../../src/app/history/projector.ts';
import type { HistoryRow, HistoryStore } from '../../src/ports/history.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import type { ProjectionSource, StoredEvent } from '../../src/ports/event-log.ts';
import { applyStreams } from '../../streams/apply.ts';
import { appendPixels } from '../helpers/append-events.ts';
import { deleteStream, dropSchema, TEST_DATABASE_URL, TEST_NATS_URL, testNames } from '../helpers/isolation.ts';

const names = testNames('halt');
const logger = pino({ level: 'silent' });
let pg: PgConnection;
let nc: NatsConnection;

const poisoned = (seq: number): StoredEvent & HistoryRow => ({
  seq,
  storedAt: Date.now(),
  event: {
    kind: EventKind.PixelPlaced,
    x: 65535,
    y: 0,
    color: 1,
    userId: 'u',
    requestId: `r${seq}`,
    placedAt: Date.now(),
  },
});

beforeAll(async () => {
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await migrateToLatest(pg.pool, names.pgSchema);
  nc = await connectNats(TEST_NATS_URL, 'test-halt');
  await applyStreams(nc, names);
});

afterAll(async () => {
  await pg?.close();
  await deleteStream(nc, names);
  await nc?.close();
  await dropSchema(names);
});

describe('permanent failures', () => {
  it('Postgres refusing the data (smallint out of range) is StoreRejected, not an outage', async () => {
    const store = createPgHistoryStore(pg, logger);
    const error = await store
      .commit({ projection: 'p-direct', expectedSeq: 0, newSeq: 1, rows: [poisoned(1)], snapshots: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreRejected);
    expect((error as Error).message).toMatch(/out of range/);
    expect(await store.position('p-direct')).toBe(0); // nothing committed
  });

  it('the history projector halts after one attempt, reports it, and health turns 503-worthy', async () => {
    const real = createPgHistoryStore(pg, logger);
    let commits = 0;
    const store: HistoryStore = { ...real, commit: (input) => (commits++, real.commit(input)) };
    // A source that hands over one batch and ends `run` with whatever the handler throws, like the real one does for ProjectionHalted.
    const source: ProjectionSource = { run: async (_from, handle) => handle([poisoned(1)]) };
    const halted: ProjectionHalted[] = [];
    const projector = createHistoryProjector({
      store,
      source,
      clock: systemClock,
      width: 2000,
      height: 16,
      projection: 'p-halt',
      snapshotIntervalMs: 60_000,
      snapshotMaxEvents: 1_000_000,
      retryInitialMs: 10,
      retryMaxMs: 20,
      observer: {
        halted: ({ error }) => {
          halted.push(error);
          metrics.projectionHalted.set({ projection: 'test-halt' }, 1);
        },
      },
    });
    const outcome = await Promise.race([
      projector.run(new AbortController().signal).then(
        () => 'returned',
        (e: unknown) => e,
      ),
      new Promise((r) => setTimeout(() => r('still retrying after 3 s'), 3_000)),
    ]);
    expect(outcome).toBeInstanceOf(ProjectionHalted);
    expect((outcome as ProjectionHalted).seq).toBe(1);
    expect(halted).toHaveLength(1);
    expect(commits).toBe(1);
    expect(await projectionsHealthy()).toEqual({
      ok: false,
      checks: { 'test-halt': 'halted on a permanent failure (see the log)' },
    });
    metrics.projectionHalted.set({ projection: 'test-halt' }, 0);
    expect((await projectionsHealthy()).ok).toBe(true);
  });

  it('the projection source ends run with ProjectionHalted instead of redelivering the batch', async () => {
    await appendPixels(nc, names, [{ x: 1, y: 1, color: 1 }]);
    let handled = 0;
    const run = createNatsProjectionSource(nc, names, 'halt-proj', logger, {
      canvas: { width: 16, height: 16, colors: 32 },
      maxBackoffMs: 50,
    }).run(
      1,
      async () => {
        handled++;
        throw new ProjectionHalted('test: permanent', 1);
      },
      new AbortController().signal,
    );
    const outcome = await Promise.race([
      run.then(
        () => 'returned',
        (e: unknown) => e,
      ),
      new Promise((r) => setTimeout(() => r('still redelivering after 5 s'), 5_000)),
    ]);
    expect(outcome).toBeInstanceOf(ProjectionHalted);
    expect(handled).toBe(1);
  });
});
