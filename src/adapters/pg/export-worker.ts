/**
 * Entry of one dataset-export worker thread (./export-workers.ts starts them): it parses runs of whole COPY
 * rows (cut on the main thread by `CopyRowSplitter`) and formats them with the same formatter as the
 * one-thread path (src/domain/history/export-format.ts), so the bytes are the same; optionally each run's bytes
 * become one gzip member. Each worker keeps its own user interner and key cache (a user's key is hashed once
 * per worker). A thread serves one export at a time and is kept for the next (./export-workers.ts).
 *
 * Messages in: `WorkerJob`; out: `WorkerDone` or `WorkerFailed`, in the order the jobs came.
 */
import { parentPort } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { saltedUserKey } from '../../app/history/user-key.ts';
import { csvFormatter, ndjsonFormatter, rawUserKey, type RowFormatter } from '../../domain/history/export-format.ts';
import { UserInterner } from '../../domain/history/user-interner.ts';
import type { WorkerDone, WorkerFailed, WorkerJob, WorkerSetup } from './export-workers.ts';
import { newParseBatch, type ParseBatch, PlacementCopyParser } from './placement-copy.ts';

const port = parentPort;
if (!port) throw new Error('export-worker.ts runs as a worker thread');
/** Shared by every export this thread serves: an index stays valid within the batch it was handed out in. */
const users = new UserInterner();

interface Formatting {
  readonly setup: WorkerSetup;
  readonly formatter: RowFormatter;
  readonly head: Buffer;
  readonly batch: ParseBatch;
}
/** The formatter of the last few setups (consecutive exports usually share one: its key cache stays warm). */
const recent = new Map<string, Formatting>();

function formattingOf(setup: WorkerSetup): Formatting {
  let f = recent.get(setup.key);
  if (!f) {
    const userKey = setup.userSalt === null ? rawUserKey : saltedUserKey(setup.userSalt);
    const formatter =
      setup.format === 'csv' ? csvFormatter(userKey, setup.colorHex) : ndjsonFormatter(userKey, setup.colorHex);
    f = { setup, formatter, head: Buffer.from(formatter.head, 'latin1'), batch: newParseBatch(setup.rowsPerRun) };
    if (recent.size >= 2) recent.delete(recent.keys().next().value as string);
    recent.set(setup.key, f);
  }
  return f;
}

function format(job: WorkerJob): Uint8Array {
  const { setup, formatter, head, batch } = formattingOf(job.setup);
  const parts: Uint8Array[] = job.head && head.length > 0 ? [head] : [];
  const parser = new PlacementCopyParser(users, true);
  parser.push(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength));
  let rows = 0;
  for (;;) {
    const full = parser.parse(batch);
    if (batch.count > 0) {
      parts.push(formatter.rows(batch));
      rows += batch.count;
      batch.count = 0;
    }
    if (!full) break;
  }
  if (rows !== job.rows || parser.pending !== 0)
    throw new Error(`export worker parsed ${rows} of ${job.rows} rows (${parser.pending} bytes left)`);
  const text = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
  return setup.gzipLevel === null ? text : gzipSync(text, { level: setup.gzipLevel });
}

port.on('message', (job: WorkerJob) => {
  try {
    const bytes = format(job);
    // A view over a whole buffer of its own is moved, not copied (Buffer's small-allocation pool is shared).
    const own = bytes.buffer.byteLength > Buffer.poolSize;
    const done: WorkerDone = { id: job.id, bytes };
    port.postMessage(done, own ? [bytes.buffer as ArrayBuffer] : []);
  } catch (error) {
    const failed: WorkerFailed = { id: job.id, error: (error as Error).message, name: (error as Error).name };
    port.postMessage(failed);
  }
});
