/**
 * Strips the PostgreSQL wire protocol's framing from a `COPY … TO STDOUT` as it arrives from the socket, so what
 * is left is the COPY output itself (for `FORMAT binary`: ./copy-binary.ts). Pure: no I/O (the stream that feeds
 * it is src/adapters/pg/copy-to-stream.ts).
 *
 * Why by hand: pg-copy-streams 7.0.0 takes every CopyData message out of its buffer list as a Buffer of its
 * own and then concatenates them again, and Postgres sends one message per row, so the library spends an
 * allocation and its bookkeeping on each ~65-byte row of the dataset export: ~0.6 µs a row, most of the bench
 * process's CPU in the export bench's raw read (BENCHMARKS.md, export). This walks each read once and moves
 * the payloads together in place (`copyWithin`: no allocation per row).
 *
 * ## Messages (PostgreSQL manual, "Message Formats"; all integers big-endian)
 *
 *   u8 type | u32 length L (itself included, the type byte not) | L − 4 bytes of body
 *
 *   'd' CopyData: its body is the next bytes of the COPY output (a row per message in practice; any split
 *       is handled). 'H' CopyOutResponse, 'N' NoticeResponse, 'S' ParameterStatus, 'A' NotificationResponse may
 *       come before or between them and are skipped. 'E' ErrorResponse stops the copy where it starts; 'c'
 *       CopyDone (or any other message, which ends copy-out mode by the protocol's rule) stops it after it. The
 *       bytes from that point on (CommandComplete, ReadyForQuery, the error) belong to the driver: `rest`.
 */

const COPY_DATA = 0x64; // 'd'
const ERROR_RESPONSE = 0x45; // 'E'
/** Messages that may come before or among the CopyData ones and do not end the copy. */
const SKIPPED = new Set([0x48 /* H */, 0x4e /* N */, 0x53 /* S */, 0x41 /* A */]);

export interface FramedRead {
  /** The COPY output carried by this read (a view into the read, which it overwrites); may be empty. */
  readonly payload: Uint8Array;
  /** `done`: CopyDone (or another ending message) was read; `error`: an ErrorResponse starts `rest`. */
  readonly stop: 'none' | 'done' | 'error';
  /** With a stop: the bytes after the copy, for the driver to read (may be empty). */
  readonly rest: Uint8Array;
}

const NOTHING = new Uint8Array(0);

/** Feed it each read in order; it keeps a message split across reads (a header, or a skipped message) itself. */
export class CopyDataFramer {
  /** Bytes of a message whose header (or whole body, for a skipped one) had not arrived yet. */
  private carry: Uint8Array | null = null;
  /** CopyData body bytes still to come for the message the last read ended inside. */
  private remaining = 0;
  private stopped = false;

  /** Frames `read` (which it may overwrite: pass bytes nobody else reads). */
  read(read: Uint8Array): FramedRead {
    if (this.stopped) throw new RangeError('the copy has already stopped');
    let data = read;
    if (this.carry !== null) {
      data = new Uint8Array(this.carry.length + read.length);
      data.set(this.carry);
      data.set(read, this.carry.length);
      this.carry = null;
    }
    let out = 0;
    let at = 0;
    if (this.remaining > 0) {
      const n = Math.min(this.remaining, data.length);
      this.remaining -= n;
      out = n; // already at the start: nothing to move
      at = n;
    }
    while (at < data.length) {
      const type = data[at] as number;
      if (type === ERROR_RESPONSE) return this.stop('error', data, out, at);
      if (at + 5 > data.length) break;
      const length =
        (((data[at + 1] as number) << 24) |
          ((data[at + 2] as number) << 16) |
          ((data[at + 3] as number) << 8) |
          (data[at + 4] as number)) >>>
        0;
      if (length < 4) throw new RangeError(`protocol message of length ${length}`);
      const end = at + 1 + length;
      if (type === COPY_DATA) {
        const last = Math.min(end, data.length);
        data.copyWithin(out, at + 5, last);
        out += last - (at + 5);
        if (end > data.length) {
          this.remaining = end - data.length;
          at = data.length;
          break;
        }
      } else if (end > data.length) {
        break;
      } else if (!SKIPPED.has(type)) {
        return this.stop('done', data, out, end);
      }
      at = end;
    }
    if (at < data.length) this.carry = data.slice(at);
    return { payload: data.subarray(0, out), stop: 'none', rest: NOTHING };
  }

  private stop(stop: 'done' | 'error', data: Uint8Array, out: number, at: number): FramedRead {
    this.stopped = true;
    return { payload: data.subarray(0, out), stop, rest: data.subarray(at) };
  }
}
