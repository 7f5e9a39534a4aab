/**
 * The snapshot reads of the history store: which snapshot serves a sequence or an instant (Kysely), and a
 * snapshot's canvas (binary COPY). Snapshots are written by the batch transaction (./history-writes.ts) and
 * stored raw (migrations/0004_raw_snapshots.ts: TOAST lz4 compresses them inside Postgres); rows from before
 * that are deflated, and `canvas_encoding` says which.
 */
import { promisify } from 'node:util';
import { deflate, inflate, constants as zlibConstants } from 'node:zlib';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { HistoryStore, SnapshotMeta } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { copyInt4, copyText } from '../../domain/codecs/copy-binary.ts';
import { sqlInteger } from './copy-out.ts';
import { copyRead, epochMs, reading } from './history-sql.ts';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

/** Deflates a raw canvas as snapshot rows were stored before migration 0004 (kept for tests and benchmarks). */
export function compressCanvas(canvas: Uint8Array): Promise<Buffer> {
  return deflateAsync(canvas, { level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
}

export function decompressCanvas(bytes: Uint8Array): Promise<Buffer> {
  return inflateAsync(bytes);
}

/**
 * A snapshot row's canvas as raw palette indices, whichever form (`canvas_encoding`, 'raw' or 'deflate') it
 * is stored in. A raw row's bytes are not copied (the caller hands over a buffer it owns); throws
 * `StoreUnavailable` when the size is wrong.
 */
export async function decodeSnapshotCanvas(
  encoding: string,
  bytes: Uint8Array,
  width: number,
  height: number,
  seq: number,
): Promise<Uint8Array> {
  let raw: Uint8Array;
  if (encoding === 'raw') raw = bytes;
  else if (encoding === 'deflate') {
    try {
      raw = await decompressCanvas(bytes);
    } catch (cause) {
      throw new StoreUnavailable(`snapshot ${seq} does not inflate: ${(cause as Error).message}`, { cause });
    }
  } else throw new StoreUnavailable(`snapshot ${seq} has an unknown canvas encoding ${JSON.stringify(encoding)}`);
  if (raw.length !== width * height)
    throw new StoreUnavailable(`snapshot ${seq} holds ${raw.length} bytes (${encoding}), not ${width}×${height}`);
  // A plain Uint8Array, never a Buffer: callers copy with `.slice()`, which on a Buffer would be a view.
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

export type SnapshotReads = Pick<HistoryStore, 'latestSnapshot' | 'snapshotFor' | 'nextSnapshotSeq' | 'loadSnapshot'>;

const META = [
  'seq',
  epochMs('captured_at').as('captured_at'),
  epochMs('max_placed_at').as('max_placed_at'),
  'pixel_count',
  'width',
  'height',
  'canvas_sha256',
] as const;

function toMeta(row: {
  seq: number;
  captured_at: number;
  max_placed_at: number;
  pixel_count: number;
  width: number;
  height: number;
  canvas_sha256: Uint8Array | null;
}): SnapshotMeta {
  return {
    seq: Number(row.seq),
    capturedAt: Number(row.captured_at),
    maxPlacedAt: Number(row.max_placed_at),
    pixelCount: Number(row.pixel_count),
    width: row.width,
    height: row.height,
    canvasSha256: row.canvas_sha256,
  };
}

export function createPgSnapshotReads(conn: PgConnection): SnapshotReads {
  const { db } = conn;
  return {
    async latestSnapshot(maxSeq) {
      const row = await reading('reading snapshots', () =>
        db
          .selectFrom('snapshots')
          .select(META)
          .where('seq', '<=', maxSeq)
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst(),
      );
      return row ? toMeta(row) : null;
    },

    async snapshotFor(time) {
      const row = await reading('reading snapshots', () =>
        db
          .selectFrom('snapshots')
          .select(META)
          .where('max_placed_at', '<=', new Date(time))
          .orderBy('max_placed_at', 'desc')
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst(),
      );
      return row ? toMeta(row) : null;
    },

    async nextSnapshotSeq(seq) {
      const row = await reading('reading snapshots', () =>
        db.selectFrom('snapshots').select('seq').where('seq', '>', seq).orderBy('seq').limit(1).executeTakeFirst(),
      );
      return row ? Number(row.seq) : null;
    },

    async loadSnapshot(seq) {
      // COPY, not Kysely: node-postgres would receive the 4 MB `bytea` as hex text and decode it slower than
      // Postgres produces it (./copy-out.ts).
      const rows = await copyRead(
        conn,
        'reading a snapshot',
        `SELECT canvas_encoding, width, height, canvas FROM snapshots WHERE seq = ${sqlInteger(seq)}`,
        4,
      );
      const row = rows[0];
      if (!row) throw new StoreUnavailable(`snapshot ${seq} does not exist`);
      let encoding: string, width: number, height: number, canvas: Uint8Array | null;
      try {
        [encoding, width, height, canvas] = [
          copyText(row[0] ?? null),
          copyInt4(row[1] ?? null),
          copyInt4(row[2] ?? null),
          row[3] ?? null,
        ];
      } catch (cause) {
        throw new StoreUnavailable(`snapshot ${seq} row is malformed: ${(cause as Error).message}`, { cause });
      }
      if (canvas === null) throw new StoreUnavailable(`snapshot ${seq} has no canvas`);
      return decodeSnapshotCanvas(encoding, canvas, width, height, seq);
    },
  };
}
