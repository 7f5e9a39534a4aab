/**
 * A checksum on each snapshot row (issue 16): `canvas_sha256`, the SHA-256 of the RAW canvas (one palette
 * index per pixel, whatever `canvas_encoding` stores), written by the history projector in the same statement
 * as the canvas. Recovery (src/app/recover-canvas.ts) recomputes it over the loaded canvas and skips a row
 * whose bytes no longer match (a flipped bit that stays inside the palette passed every other check), falling
 * back to an older snapshot or the full replay.
 *
 * Nullable: rows written before this migration have none and are verified as before (size and palette only).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE snapshots
      ADD COLUMN canvas_sha256 bytea,
      ADD CONSTRAINT snapshots_canvas_sha256_length CHECK (canvas_sha256 IS NULL OR octet_length(canvas_sha256) = 32)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE snapshots DROP CONSTRAINT snapshots_canvas_sha256_length, DROP COLUMN canvas_sha256`.execute(
    db,
  );
}
