/**
 * The history tests' shared setups. `startProjectedHistory`: a canvas's streams on the real NATS, its schema
 * migrated on the real Postgres, events published, the real history role projecting until it has them all,
 * and the history HTTP API; `stopProjectedHistory` undoes it. `projectFromMemory`: the real projector over
 * events handed straight in (no NATS), until it has read the last one.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { expect, vi } from 'vitest';
import type { PixelPlaced } from '../../proto/event-codec.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { createHistoryProjector, type HistoryProjectorOptions } from '../../src/app/history/projector.ts';
import type { HttpRoute } from '../../src/app/http.ts';
import type { HistoryConfig } from '../../src/config/history.ts';
import type { Names } from '../../src/domain/names.ts';
import type { ProjectionSource, StoredEvent } from '../../src/ports/event-log.ts';
import type { HistoryRow, HistoryStore } from '../../src/ports/history.ts';
import { startHistoryApi } from '../../src/roles/history/api.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { publishEvents, type TestEvent } from './history.ts';
import { deleteStream, dropSchema, TEST_DATABASE_URL, TEST_NATS_URL } from './isolation.ts';

export interface ProjectedHistory {
  nc: NatsConnection;
  pg: PgConnection;
  store: HistoryStore;
  events: TestEvent[];
  /** Stops the history role (the test may restart it and hold its own stop). */
  stop: (() => Promise<void>) | null;
  api: { routes: HttpRoute[]; close(): Promise<void> };
}

export async function startProjectedHistory(input: {
  clientName: string;
  names: Names;
  config: HistoryConfig;
  logger: Logger;
  events: readonly Omit<PixelPlaced, 'kind'>[];
}): Promise<ProjectedHistory> {
  const { names, config, logger } = input;
  const nc = await connectNats(TEST_NATS_URL, input.clientName);
  await applyStreams(nc, names);
  const pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await migrateToLatest(pg.pool, names.pgSchema);
  const store = createPgHistoryStore(pg, logger);
  const events = await publishEvents(nc, names, input.events);
  const stop = await startHistory(config, logger);
  // In a hook, where expect.poll is not available: vi.waitFor retries the assertion.
  await vi.waitFor(
    async () =>
      expect(await store.position(names.consumers.history), 'history to reach the last event').toBe(events.at(-1)?.seq),
    { timeout: 20_000, interval: 100 },
  );
  const api = await startHistoryApi(config, logger);
  return { nc, pg, store, events, stop, api };
}

/** Stops what `startProjectedHistory` started (any part may be missing after a failed start). */
export async function stopProjectedHistory(
  h: { nc?: NatsConnection; pg?: PgConnection; stop?: (() => Promise<void>) | null; api?: { close(): Promise<void> } },
  names: Names,
): Promise<void> {
  await h.stop?.();
  await h.api?.close();
  await h.pg?.close();
  if (h.nc) {
    await deleteStream(h.nc, names);
    await h.nc.close();
  }
  await dropSchema(names);
}

/** A test event as the stream would hand it to a projector (stored at its placement time). */
export function storedEvent(e: TestEvent): StoredEvent & HistoryRow {
  const { seq, ...event } = e;
  return { seq, storedAt: e.placedAt, event };
}

/**
 * Runs the real history projector over `events` (sequences 1..n), `batch` at a time from where the store
 * stands, and returns once it has handled the last one.
 */
export async function projectFromMemory(
  events: readonly TestEvent[],
  batch: number,
  options: Omit<HistoryProjectorOptions, 'source' | 'clock'>,
): Promise<void> {
  const done = new AbortController();
  const source: ProjectionSource = {
    async run(fromSeq, handle) {
      for (let i = fromSeq - 1; i < events.length; i += batch)
        await handle(events.slice(i, i + batch).map(storedEvent));
      done.abort();
    },
  };
  await createHistoryProjector({ ...options, source, clock: { now: () => Date.now() } }).run(done.signal);
}
