/** Kysely table types of the history schema (see migrations/0001_history.ts). */
import type { ColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Int8 = ColumnType<number, number | string, number | string>;

export interface HistoryDatabase {
  events: {
    seq: Int8;
    kind: number;
    x: number;
    y: number;
    color: number;
    user_id: string;
    placed_at: Timestamp;
    stored_at: Timestamp;
  };
  snapshots: {
    seq: Int8;
    captured_at: Timestamp;
    max_placed_at: Timestamp;
    pixel_count: Int8;
    width: number;
    height: number;
    /** One palette index per pixel when `canvas_encoding` is 'raw'; deflated (rows before 0004) when 'deflate'. */
    canvas: Uint8Array;
    canvas_encoding: ColumnType<'deflate' | 'raw', 'deflate' | 'raw' | undefined, 'deflate' | 'raw'>;
    /** SHA-256 of the raw canvas (migrations/0009_snapshot_checksum.ts); null on rows written before it. */
    canvas_sha256: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  };
  /** Packed batches of events (migrations/0003_event_chunks.ts, layout in ./event-chunks.ts). */
  event_chunks: {
    first_seq: Int8;
    last_seq: Int8;
    min_placed_at: Timestamp;
    max_placed_at: Timestamp;
    count: number;
    packed: Uint8Array;
  };
  projection_positions: {
    name: string;
    seq: Int8;
    updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  };
}
