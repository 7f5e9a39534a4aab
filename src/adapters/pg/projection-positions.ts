/**
 * Every projection's stored position in a canvas's schema (`projection_positions`), for `rplace status`,
 * which must also answer for a canvas whose schema was never migrated (then: null, not an error).
 * A failed statement is `StoreUnavailable`, like every other history read.
 */
import { sql } from 'kysely';
import { StoreUnavailable } from '../../ports/errors.ts';
import { quoteIdent, type PgConnection } from './connect.ts';

export async function readProjectionPositions(conn: PgConnection): Promise<{ name: string; seq: number }[] | null> {
  try {
    // to_regclass: Kysely has no "does this table exist" builder; one expression, not a raw statement.
    const exists = await sql<{
      t: string | null;
    }>`SELECT to_regclass(${`${quoteIdent(conn.schema)}.projection_positions`}) AS t`.execute(conn.db);
    if (exists.rows[0]?.t == null) return null;
    const rows = await conn.db.selectFrom('projection_positions').select(['name', 'seq']).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, seq: Number(r.seq) }));
  } catch (cause) {
    throw new StoreUnavailable(`postgres reading the projection positions failed: ${(cause as Error).message}`, {
      cause,
    });
  }
}
