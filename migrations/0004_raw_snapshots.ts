/**
 * Snapshots stored raw (one palette index per pixel) instead of deflated by the client. Reading a deflated
 * snapshot cost node-postgres's hex decode of ~2.5 MB plus a ~30–80 ms inflate per point-in-time answer; a
 * raw canvas read through binary COPY costs ~5–10 ms, because Postgres decompresses its own TOAST lz4 at
 * GB/s. Real canvases (large runs of one colour) compress as well under lz4; random pixels, the benchmark's
 * worst case, do not compress at all and take 4 MB instead of ~2.5 MB (120 snapshots an hour: +180 MB).
 *
 * Rows written before this migration stay deflated: `canvas_encoding` says which form a row holds (existing
 * rows and any writer that does not name it get 'deflate'), and readers accept both. There is no zlib inside
 * Postgres to convert them here. `STORAGE EXTENDED` lets TOAST compress new values (it keeps a value as it
 * is when compression does not shrink it, as for the deflated rows already stored).
 *
 * lz4 needs a server built with it (Debian's is). Without it the column keeps the default pglz: correct, its
 * decompression only slower.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE snapshots
      ADD COLUMN canvas_encoding text NOT NULL DEFAULT 'deflate',
      ADD CONSTRAINT snapshots_canvas_encoding CHECK (
        canvas_encoding = 'deflate' OR (canvas_encoding = 'raw' AND octet_length(canvas) = width::bigint * height)),
      ALTER COLUMN canvas SET STORAGE EXTENDED`.execute(db);
  await sql`
    DO $$ BEGIN
      ALTER TABLE snapshots ALTER COLUMN canvas SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
      RAISE NOTICE 'lz4 is not supported by this server; snapshots keep pglz';
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Raw rows cannot be told apart once the column is gone: they must go before it does.
  await sql`DELETE FROM snapshots WHERE canvas_encoding = 'raw'`.execute(db);
  await sql`
    ALTER TABLE snapshots
      DROP CONSTRAINT snapshots_canvas_encoding,
      DROP COLUMN canvas_encoding,
      ALTER COLUMN canvas SET STORAGE EXTERNAL,
      ALTER COLUMN canvas SET COMPRESSION default`.execute(db);
}
