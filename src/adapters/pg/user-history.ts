/**
 * A user's placements, newest first, a page at a time (index `events_user`, migrations/0006_user_history.ts).
 */
import { StoreUnavailable } from '../../ports/errors.ts';
import type { PgConnection } from './connect.ts';

export interface UserPlacement {
  readonly seq: number;
  readonly kind: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly placedAt: number;
}

/** Placements by `userId` with `seq < beforeSeq`, newest first, at most `limit`. */
export async function userPlacements(
  conn: PgConnection,
  userId: string,
  beforeSeq: number,
  limit: number,
): Promise<UserPlacement[]> {
  try {
    const rows = await conn.db
      .selectFrom('events')
      .select(['seq', 'kind', 'x', 'y', 'color', 'placed_at'])
      .where('user_id', '=', userId)
      .where('seq', '<', beforeSeq)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      kind: r.kind,
      x: r.x,
      y: r.y,
      color: r.color,
      placedAt: r.placed_at.getTime(),
    }));
  } catch (cause) {
    throw new StoreUnavailable(`postgres reading a user's placements failed: ${(cause as Error).message}`, { cause });
  }
}
