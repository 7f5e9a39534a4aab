/**
 * What a time slider needs of the history store, in one round trip: the projection's position, the first and
 * last placement times (the last one no earlier than the newest snapshot's), and the snapshot count.
 */
import type { HistoryStore } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { epochMs, reading } from './history-sql.ts';

export function createPgHistorySummary(conn: PgConnection): Pick<HistoryStore, 'summary'> {
  const { db } = conn;
  return {
    async summary(projection) {
      const row = await reading('reading the summary', () =>
        db
          .selectNoFrom((eb) => [
            eb.selectFrom('projection_positions').select('seq').where('name', '=', projection).as('position'),
            eb.selectFrom('events').select(epochMs('placed_at').as('t')).orderBy('seq').limit(1).as('first'),
            eb.selectFrom('events').select(epochMs('placed_at').as('t')).orderBy('seq', 'desc').limit(1).as('last'),
            eb
              .selectFrom('snapshots')
              .select(epochMs('max_placed_at').as('t'))
              .orderBy('seq', 'desc')
              .limit(1)
              .as('snap_max'),
            eb.selectFrom('snapshots').select(eb.fn.countAll<number>().as('n')).as('snapshots'),
          ])
          .executeTakeFirst(),
      );
      const last = row?.last == null ? null : Math.max(Number(row.last), Number(row.snap_max ?? 0));
      return {
        position: Number(row?.position ?? 0),
        firstPlacedAt: row?.first == null ? null : Number(row.first),
        lastPlacedAt: last,
        snapshots: Number(row?.snapshots ?? 0),
      };
    },
  };
}
