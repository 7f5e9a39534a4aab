/**
 * pg-copy-streams' `to(…)` (a `COPY … TO STDOUT` as a Readable that node-postgres runs as a query) with its
 * per-message framing loop replaced by `CopyDataFramer` (src/domain/codecs/copy-data-framer.ts says why and
 * what it measured). Everything else is the library's, version 7.0.0: taking the connection's socket over when
 * the copy starts, handing it back to node-postgres with the unread bytes at CopyDone or an ErrorResponse (so
 * the driver reports the error and completes the query), back-pressure (the socket is read only as fast as
 * the stream is).
 */
import type { Readable } from 'node:stream';
import type { Submittable } from 'pg';
import { to as libraryCopyTo } from 'pg-copy-streams';
import { CopyDataFramer } from '../../domain/codecs/copy-data-framer.ts';

/** The library stream's internals this subclass uses (pg-copy-streams 7.0.0, copy-to.js). */
interface CopyToInternals {
  _buffer: { push(chunk: Buffer): void };
  _detach(): void;
  _cleanup(): void;
}

type CopyToStream = Readable & Submittable;

// The library exports a factory, not its class: take the class from an instance's prototype.
const LibraryCopyTo = Object.getPrototypeOf(libraryCopyTo('')).constructor as new (text: string) => CopyToStream;

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

class FramedCopyTo extends LibraryCopyTo {
  private readonly framer = new CopyDataFramer();

  /** Called by the library with each read of the socket; returns whether to keep reading. */
  _parse(chunk: Buffer): boolean {
    const self = this as unknown as CopyToInternals;
    const read = this.framer.read(chunk);
    const drained = read.payload.length > 0 ? this.push(asBuffer(read.payload)) : true;
    if (read.stop === 'none') return drained;
    if (read.rest.length > 0) self._buffer.push(asBuffer(read.rest));
    self._detach();
    if (read.stop === 'done') {
      this.push(null);
      self._cleanup();
    }
    // Stop the library's read loop: the socket is node-postgres's again.
    return false;
  }
}

/** `COPY … TO STDOUT` as a stream of the COPY output's bytes; pass it to `client.query`. */
export function copyToStream(text: string): CopyToStream {
  return new FramedCopyTo(text);
}
