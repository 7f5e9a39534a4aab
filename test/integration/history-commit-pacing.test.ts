/**
 * The history projector's commit pacing (`minCommitIntervalMs`, HISTORY_COMMIT_INTERVAL_MS) on the real
 * Postgres: a steady trickle of events, handed over as the real sources do (whatever arrived while the last
 * batch was handled), goes in few commits instead of one per arrival, and every event still lands; a
 * catch-up's large batches are not held back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventKind } from '../../proto/event-codec.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { createHistoryProjector, PACED_BELOW_EVENTS } from '../../src/app/history/projector.ts';
import { sleep } from '../../src/app/sleep.ts';
import type { ProjectionSource, StoredEvent } from '../../src/ports/event-log.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import { dropSchema, TEST_DATABASE_URL, testNames } from '../helpers/isolation.ts';

const W = 16;
const names = testNames('histpace');
const logger = pino({ level: 'silent' });
let pg: PgConnection;
let store: HistoryStore;

beforeAll(async () => {
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await migrateToLatest(pg.pool, names.pgSchema);
  store = createPgHistoryStore(pg, logger);
});
afterAll(async () => {
  await pg?.close();
  await dropSchema(names);
});

let nextSeq = 0;
const event = (): StoredEvent => {
  const seq = ++nextSeq;
  const placedAt = Date.now();
  return {
    seq,
    storedAt: placedAt,
    event: {
      kind: EventKind.PixelPlaced,
      x: seq % W,
      y: Math.floor(seq / W) % W,
      color: seq % 32,
      userId: 'u',
      requestId: `r${seq}`,
      placedAt,
    },
  };
};

/**
 * A source fed by `arrive` (events pushed every `everyMs`, `count` in all): each batch is everything that
 * arrived while the previous one was handled, as the NATS and shared-read sources hand them over.
 */
function trickle(count: number, everyMs: number, done: AbortController): ProjectionSource {
  return {
    async run(_fromSeq, handle) {
      const buffer: StoredEvent[] = [];
      let arrived = 0;
      const timer = setInterval(() => {
        if (arrived < count) {
          buffer.push(event());
          arrived++;
        }
      }, everyMs);
      try {
        while (arrived < count || buffer.length > 0) {
          if (buffer.length === 0) {
            await sleep(1);
            continue;
          }
          await handle(buffer.splice(0));
        }
      } finally {
        clearInterval(timer);
      }
      done.abort();
    },
  };
}

/** The store with its batch commits counted. */
function counted(): { store: HistoryStore; commits: { count: number } } {
  const commits = { count: 0 };
  return {
    commits,
    store: {
      ...store,
      commit: (input) => {
        if (input.rows.length > 0) commits.count++;
        return store.commit(input);
      },
    },
  };
}

const settings = (projection: string) => ({
  width: W,
  height: W,
  projection,
  snapshotIntervalMs: 3_600_000,
  snapshotMaxEvents: 1_000_000,
  clock: { now: () => Date.now() },
});

/** The projector over `count` events arriving every 5 ms, to the end, with its batch commits counted. */
async function projectTrickle(projection: string, count: number, minCommitIntervalMs: number) {
  const { store: countingStore, commits } = counted();
  const done = new AbortController();
  const projector = createHistoryProjector({
    ...settings(projection),
    store: countingStore,
    source: trickle(count, 5, done),
    minCommitIntervalMs,
  });
  await projector.run(done.signal);
  return { projector, commits: commits.count };
}

describe('history commits paced by time', () => {
  it('a trickle of events goes in few commits, and every event lands', async () => {
    const first = nextSeq + 1;
    const { projector, commits } = await projectTrickle('paced', 120, 200);
    expect(projector.seq).toBe(nextSeq);
    expect(await store.position('paced')).toBe(nextSeq);
    const tail = await store.tail(first - 1, nextSeq, Number.POSITIVE_INFINITY);
    expect(tail.changes.length).toBe(120);
    // ~0.6-1 s of arrivals at one commit per 200 ms; unpaced, each of ~120 arrivals is a commit of its own.
    expect(commits).toBeLessThanOrEqual(10);
  });

  it('unpaced, the same trickle commits about once per arrival', async () => {
    const { projector, commits } = await projectTrickle('unpaced', 60, 0);
    expect(projector.seq).toBe(nextSeq);
    expect(commits).toBeGreaterThan(20);
  });

  it('large batches (a catch-up) are committed back to back', async () => {
    const done = new AbortController();
    const batches = [0, 1, 2].map(() => Array.from({ length: PACED_BELOW_EVENTS }, event));
    const source: ProjectionSource = {
      async run(_fromSeq, handle) {
        for (const batch of batches) await handle(batch);
        done.abort();
      },
    };
    const projector = createHistoryProjector({
      ...settings('catchup'),
      store,
      source,
      minCommitIntervalMs: 5_000,
    });
    const started = performance.now();
    await projector.run(done.signal);
    expect(projector.seq).toBe(nextSeq);
    // Paced, the three would take at least 2 × 5 s.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
