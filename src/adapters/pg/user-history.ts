/**
 * A user's placements, newest first, a page at a time (index `events_user`, migrations/0006_user_history.ts).
 * On a plain pool and schema, so both the CLI (`rplace user-history`) and an edge's accounts pool serve it.
 */
import type pg from 'pg';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { UserPlacement, UserPlacements } from '../../ports/history.ts';
import { quoteIdent } from './connect.ts';

export type { UserPlacement } from '../../ports/history.ts';

export function createPgUserPlacements(pool: pg.Pool, schema: string): UserPlacements {
  const sql = `SELECT seq, kind, x, y, color, placed_at FROM ${quoteIdent(schema)}.events
    WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`;
  return async (userId, beforeSeq, limit) => {
    try {
      const { rows } = await pool.query<{
        seq: string;
        kind: number;
        x: number;
        y: number;
        color: number;
        placed_at: Date;
      }>(sql, [userId, beforeSeq, limit]);
      return rows.map(
        (r): UserPlacement => ({
          seq: Number(r.seq),
          kind: r.kind,
          x: r.x,
          y: r.y,
          color: r.color,
          placedAt: r.placed_at.getTime(),
        }),
      );
    } catch (cause) {
      throw new StoreUnavailable(`postgres reading a user's placements failed: ${(cause as Error).message}`, {
        cause,
      });
    }
  };
}
