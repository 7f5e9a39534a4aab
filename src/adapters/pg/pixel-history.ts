/**
 * The per-pixel history of the history store: one pixel's placements, newest first, paged by sequence, off
 * the `events` rows and their (x, y, seq) index.
 */
import type { HistoryStore, Placement } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { reading } from './history-sql.ts';

export function createPgPixelHistory(conn: PgConnection): Pick<HistoryStore, 'pixelHistory'> {
  return {
    async pixelHistory(x, y, beforeSeq, limit): Promise<readonly Placement[]> {
      const rows = await reading('reading pixel history', () =>
        conn.db
          .selectFrom('events')
          .select(['seq', 'kind', 'color', 'user_id', 'placed_at'])
          .where('x', '=', x)
          .where('y', '=', y)
          .where('seq', '<', beforeSeq)
          .orderBy('seq', 'desc')
          .limit(limit)
          .execute(),
      );
      return rows.map((r) => ({
        seq: Number(r.seq),
        kind: r.kind,
        color: r.color,
        userId: r.user_id,
        placedAt: r.placed_at.getTime(),
      }));
    },
  };
}
