/**
 * Daily partitions of `events`, created ahead of the rows that need them (the day of each event and the next
 * one), outside the batch's transaction; `events_default` only catches a day whose partition could not be
 * created. Raw SQL: Kysely has no builder for `CREATE TABLE … PARTITION OF`, and DDL takes no bind
 * parameters (the bounds are ISO timestamps made here, the name digits only).
 */
import type { Logger } from 'pino';
import type { HistoryRow } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { iso, unavailable } from './history-sql.ts';

const DAY_MS = 86_400_000;

/** Ensures the partitions `rows` need; remembers the days done (per process: a restart re-checks, cheaply). */
export function createPartitioner(conn: PgConnection, logger: Logger): (rows: readonly HistoryRow[]) => Promise<void> {
  const { pool } = conn;
  const knownDays = new Set<number>();
  return async function ensurePartitions(rows) {
    const days = new Set<number>();
    for (const row of rows) {
      const day = Math.floor(row.event.placedAt / DAY_MS);
      if (!knownDays.has(day)) days.add(day);
      if (!knownDays.has(day + 1)) days.add(day + 1);
    }
    for (const day of days) {
      const from = new Date(day * DAY_MS);
      const name = `events_p${from.toISOString().slice(0, 10).replace(/-/g, '')}`;
      try {
        await pool.query(
          `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events FOR VALUES FROM ('${from.toISOString()}') TO ('${iso((day + 1) * DAY_MS)}')`,
        );
        knownDays.add(day);
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        // 42P07: created concurrently. 23514: rows of that day already sit in events_default (kept there).
        if (code === '42P07' || code === '23514' || code === '42P17') {
          if (code !== '42P07')
            logger.warn(
              { partition: name, err: (cause as Error).message },
              'cannot create partition; its rows stay in events_default',
            );
          knownDays.add(day);
        } else {
          throw unavailable(`creating partition ${name}`, cause);
        }
      }
    }
  };
}
