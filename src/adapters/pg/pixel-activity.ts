/**
 * Placements per pixel over a sequence range, read from the packed event chunks (./event-chunks.ts: 18-byte
 * records, no user ids needed here), a page of 64 chunks (~9 MB) per binary COPY, so memory is one page plus
 * the `width × height` counters whatever the range.
 */
import type { PgConnection } from './connect.ts';
import { copyInt8, CopyFormatError } from '../../domain/codecs/copy-binary.ts';
import { copyRows, sqlInteger } from './copy-out.ts';
import { CHUNK_RECORD_BYTES } from '../../domain/history/event-chunks.ts';
import type { PixelActivity } from '../../ports/export.ts';
import { StoreUnavailable } from '../../ports/errors.ts';

const PAGE_CHUNKS = 64;

export function createPgPixelActivity(conn: PgConnection): PixelActivity {
  return {
    async counts(afterSeq, untilSeq, width, height) {
      const counts = new Uint32Array(width * height);
      let cursor = afterSeq;
      while (cursor < untilSeq) {
        let rows;
        try {
          rows = await copyRows(
            conn.pool,
            `SELECT first_seq, last_seq, packed FROM event_chunks
            WHERE last_seq > ${sqlInteger(cursor)} AND first_seq <= ${sqlInteger(untilSeq)} ORDER BY last_seq LIMIT ${PAGE_CHUNKS}`,
            3,
          );
        } catch (cause) {
          if (cause instanceof CopyFormatError)
            throw new StoreUnavailable(`history chunks are corrupt: ${cause.message}`, { cause });
          throw new StoreUnavailable(`postgres reading chunks failed: ${(cause as Error).message}`, { cause });
        }
        for (const row of rows) {
          const first = copyInt8(row[0] ?? null);
          const packed = row[2];
          if (!packed || packed.length % CHUNK_RECORD_BYTES !== 0)
            throw new StoreUnavailable(`event chunk ${first} is malformed`);
          const view = new DataView(packed.buffer, packed.byteOffset, packed.length);
          for (let at = 0; at < packed.length; at += CHUNK_RECORD_BYTES) {
            const seq = first + view.getUint32(at);
            if (seq <= afterSeq) continue;
            if (seq > untilSeq) break;
            const x = view.getInt16(at + 4),
              y = view.getInt16(at + 6);
            // An event outside the canvas should never have been written; it is not counted, never a crash.
            if (x >= 0 && x < width && y >= 0 && y < height) {
              const i = y * width + x;
              counts[i] = (counts[i] as number) + 1;
            }
          }
          cursor = copyInt8(row[1] ?? null);
        }
        if (rows.length < PAGE_CHUNKS) break;
      }
      return counts;
    },
  };
}
