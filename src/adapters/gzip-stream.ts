/**
 * Gzip of a streamed body (node:zlib), for exports asked for with `compress=gzip` / `--gzip`. Backpressure
 * runs end to end (the source is read only as fast as compressed bytes are taken), and ending the iteration
 * early destroys the compressor and ends the source's iteration too (so an export's read stops).
 */
import { Readable } from 'node:stream';
import { createGzip, constants } from 'node:zlib';

/**
 * The export's gzip level. Level 1: on the export's CSV (hashed user ids are random base64) it costs ~2.0 µs a row against
 * ~3.0 µs at level 6, for output 3 % larger (0.584 against 0.567 of the CSV; bench/export.ts, BENCHMARKS.md).
 */
export const GZIP_LEVEL = 1;

export async function* gzipChunks(source: AsyncIterable<Uint8Array>, level = GZIP_LEVEL): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source, { objectMode: false });
  const gzip = createGzip({ level, chunkSize: 64 * 1024, flush: constants.Z_NO_FLUSH });
  input.on('error', (error) => gzip.destroy(error));
  input.pipe(gzip);
  try {
    for await (const chunk of gzip as AsyncIterable<Buffer>) yield chunk;
  } finally {
    // Destroying the Readable calls `return()` on the source's iterator.
    input.unpipe(gzip);
    gzip.destroy();
    input.destroy();
  }
}
