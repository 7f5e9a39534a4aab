/**
 * Placements as a Parquet file, through hyparquet-writer (pure JavaScript, no native code and no
 * dependencies beyond its sibling reader `hyparquet`; maintained by Hyperparam, MIT). Chosen over
 * `parquetjs`/`@dsnp/parquetjs` (row objects, a Thrift runtime and many dependencies) and `parquet-wasm`
 * (needs Apache Arrow tables in memory): it writes column arrays, which is what we hold, one row group
 * at a time.
 *
 * Columns: `timestamp` (INT64 TIMESTAMP_MILLIS, UTC), `user_id` (string), `pixel_color` (`#RRGGBB`,
 * dictionary-encoded by the writer), `x`, `y` (INT32), `seq` (INT64) and `kind` (INT32: 1 placed,
 * 2 restored by a moderator). Snappy-compressed (the writer's built-in codec).
 *
 * Streaming: the writer appends to a `ByteWriter`; after each row group its bytes are handed on and the
 * buffer reset (`offset` keeps counting, so the footer's offsets stay right). Memory is one row group of
 * `rowGroupRows` rows plus its encoding.
 */
import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { ParquetEncoder } from '../../ports/export.ts';
import type { PlacementBatch } from '../../domain/history/placement-batch.ts';
import { memoByUserId } from '../../domain/history/export-format.ts';

const SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: 7 },
  { name: 'timestamp', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
  { name: 'user_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'pixel_color', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'x', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'y', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'seq', type: 'INT64', repetition_type: 'REQUIRED' },
  { name: 'kind', type: 'INT32', repetition_type: 'REQUIRED' },
];

class RowGroup {
  n = 0;
  readonly timestamp: BigInt64Array;
  readonly userId: string[];
  readonly color: string[];
  readonly x: Int32Array;
  readonly y: Int32Array;
  readonly seq: BigInt64Array;
  readonly kind: Int32Array;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
    this.timestamp = new BigInt64Array(capacity);
    this.userId = new Array<string>(capacity);
    this.color = new Array<string>(capacity);
    this.x = new Int32Array(capacity);
    this.y = new Int32Array(capacity);
    this.seq = new BigInt64Array(capacity);
    this.kind = new Int32Array(capacity);
  }
}

export function createParquetEncoder(options: { readonly rowGroupRows?: number } = {}): ParquetEncoder {
  const rowGroupRows = options.rowGroupRows ?? 131_072;
  return {
    async *encode(batches: AsyncIterable<PlacementBatch>, { userKey, colorHex }) {
      const out = new ByteWriter(1 << 20);
      const writer = new ParquetWriter({ writer: out, schema: SCHEMA, createdBy: 'rplace export (hyparquet-writer)' });
      const group = new RowGroup(rowGroupRows);
      const take = (): Uint8Array => {
        const bytes = out.getBytes().slice();
        out.index = 0;
        return bytes;
      };
      const flush = (): void => {
        const n = group.n;
        if (n === 0) return;
        const cut = <T extends { subarray(a: number, b: number): T }>(a: T): T => a.subarray(0, n);
        void writer.write({
          columnData: [
            { name: 'timestamp', data: cut(group.timestamp) },
            { name: 'user_id', data: n === rowGroupRows ? group.userId : group.userId.slice(0, n) },
            { name: 'pixel_color', data: n === rowGroupRows ? group.color : group.color.slice(0, n) },
            { name: 'x', data: cut(group.x) },
            { name: 'y', data: cut(group.y) },
            { name: 'seq', data: cut(group.seq) },
            { name: 'kind', data: cut(group.kind) },
          ],
          rowGroupSize: n,
        });
        group.n = 0;
      };
      yield take();
      // Each user's key made once: by interned index while the reader's generation holds, else by id.
      let keyByIndex: string[] = [];
      let generation = -1;
      const keyOf = memoByUserId(userKey);
      for await (const b of batches) {
        const indexes = b.userIndex;
        if (indexes && b.userGeneration !== generation) {
          generation = b.userGeneration ?? 0;
          keyByIndex = [];
        }
        for (let i = 0; i < b.count; i++) {
          const j = group.n++;
          group.timestamp[j] = BigInt(b.placedAt[i] as number);
          if (indexes) {
            const index = indexes[i] as number;
            group.userId[j] = keyByIndex[index] ??= userKey(b.userId[i] as string);
          } else group.userId[j] = keyOf(b.userId[i] as string);
          group.color[j] = colorHex[b.color[i] as number] as string;
          group.x[j] = b.x[i] as number;
          group.y[j] = b.y[i] as number;
          group.seq[j] = BigInt(b.seq[i] as number);
          group.kind[j] = b.kind[i] as number;
          if (group.n === rowGroupRows) {
            flush();
            yield take();
          }
        }
      }
      flush();
      void writer.finish();
      yield take();
    },
  };
}
