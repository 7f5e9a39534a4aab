/**
 * The dataset export's text formats on worker threads (issue 16): the main thread reads the COPY and cuts it
 * into runs of whole rows (`CopyRowSplitter`: a copy and two reads a row), `workers` threads parse and format
 * the runs (./export-worker.ts, the same formatter as the one-thread path), and the main thread hands their
 * bytes on in run order. Why: one thread formatted 0.6–0.9 M rows per CPU-second (BENCHMARKS.md, export),
 * below the 1 M events/s the export is asked for; the read itself is cheaper than that.
 *
 * Bounds: runs of `rowsPerRun` rows; at most `maxInFlight` runs between the reader and the consumer (each
 * holds its COPY bytes, then its output), so memory is `maxInFlight` × (~80 + ~140) bytes × `rowsPerRun`
 * whatever the range. The source is read only while fewer runs are in flight, and a run is handed on only when
 * the consumer asks, so a slow consumer (an HTTP client, a file) stops the read (and TCP stops Postgres).
 * Ending the iteration early terminates every worker at once (`Worker.terminate`, not after its run) and ends
 * the source's iteration (which cancels the Postgres read). A worker's failure rejects the export.
 *
 * With gzip, each run is compressed in its worker as one gzip member: the output is a concatenation of
 * members, which is one valid gzip file (RFC 1952 §2.2; gunzip, zlib, Python's gzip read all members), with
 * the same text inside as the one-thread path; the compressed bytes differ from one gzip stream's.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FormattedRun, TextExport } from '../../ports/export.ts';
import { CopyRowSplitter } from './placement-copy.ts';

/** What a job is formatted as; `key` names it (a worker keeps one formatter per key it has seen recently). */
export interface WorkerSetup extends TextExport {
  readonly key: string;
  readonly rowsPerRun: number;
}

export interface WorkerJob {
  readonly id: number;
  readonly setup: WorkerSetup;
  /** Whole rows of the COPY, no header nor trailer. */
  readonly bytes: Uint8Array;
  readonly rows: number;
  /** The format's head (the CSV header) goes before this run's rows: set on the first run only. */
  readonly head: boolean;
}
export interface WorkerDone {
  readonly id: number;
  readonly bytes: Uint8Array;
}
export interface WorkerFailed {
  readonly id: number;
  readonly error: string;
  readonly name: string;
}

export interface WorkerOptions {
  readonly workers: number;
  readonly rowsPerRun?: number;
  /** Runs between the reader and the consumer; default 2 per worker. */
  readonly maxInFlight?: number;
}

/** The most worker threads one export may start (EXPORT_WORKERS is checked against it too). */
export const MAX_EXPORT_WORKERS = 8;

let live = 0;
/** Export worker threads running in this process, busy or idle (for tests and metrics). */
export const liveExportWorkers = (): number => live;

/**
 * Starts the worker's entry: the compiled .js in dist/; in a checkout the .ts source, through tsx's loader
 * registered inside the thread first (node 20 does not apply an `--import` loader given in a worker's
 * `execArgv`, and a vitest or tsx parent's hooks do not reach new threads).
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./export-worker.js', import.meta.url));
  const entry = new URL('./export-worker.ts', import.meta.url).href;
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true });
}

export class ExportWorkerError extends Error {
  override readonly name = 'ExportWorkerError';
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

/** One started worker with its queue of jobs awaiting an answer (answered in order). */
class FormatWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;
  exited = false;

  constructor() {
    this.worker = startWorker();
    live++;
    this.worker.on('message', (m: WorkerDone | WorkerFailed) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new ExportWorkerError(`export worker: ${m.name}: ${m.error}`));
      else p.resolve(m.bytes);
    });
    this.worker.on('error', (error) => this.fail(new ExportWorkerError(`export worker failed: ${error.message}`)));
    this.worker.on('exit', (code) => {
      live--;
      this.exited = true;
      this.fail(new ExportWorkerError(`export worker exited (code ${code})`));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  /** Usable for another export: alive, nothing failed, nothing pending. */
  get reusable(): boolean {
    return !this.exited && this.failure === null && this.pending.size === 0;
  }

  run(job: WorkerJob): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      const transfer = job.bytes.buffer.byteLength > Buffer.poolSize ? [job.bytes.buffer as ArrayBuffer] : [];
      this.worker.postMessage(job, transfer);
    });
  }

  /** Kept alive for the next export without keeping the process alive. */
  park(): void {
    this.worker.unref();
  }
  lease(): void {
    this.worker.ref();
  }

  /** Stops the thread now (whatever it is formatting); resolves when it has exited. */
  async stop(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}

/**
 * Threads kept between exports: starting one costs ~0.1 s from dist/ and 0.5–1.2 s through tsx (measured
 * under load), a large share of a short export. An export leases its workers and gives them back when it
 * ends normally; an export that stops early or fails terminates its own at once instead. Idle threads do
 * not keep the process alive (`unref`) and are stopped after IDLE_MS; at most MAX_EXPORT_WORKERS are kept.
 */
const IDLE_MS = 30_000;
const idle: FormatWorker[] = [];
let idleTimer: ReturnType<typeof setTimeout> | null = null;

function leaseWorkers(count: number): FormatWorker[] {
  const leased: FormatWorker[] = [];
  while (leased.length < count) {
    const w = idle.pop();
    if (!w) break;
    if (!w.reusable) continue;
    w.lease();
    leased.push(w);
  }
  while (leased.length < count) leased.push(new FormatWorker());
  return leased;
}

function parkWorkers(workers: readonly FormatWorker[]): Promise<void> {
  const stopped: Promise<void>[] = [];
  for (const w of workers) {
    if (w.reusable && idle.length < MAX_EXPORT_WORKERS) {
      w.park();
      idle.push(w);
    } else stopped.push(w.stop());
  }
  if (idle.length > 0 && idleTimer === null) {
    idleTimer = setTimeout(() => {
      idleTimer = null;
      void closeIdleExportWorkers();
    }, IDLE_MS);
    idleTimer.unref?.();
  }
  return Promise.all(stopped).then(() => undefined);
}

/** Idle export worker threads kept for the next export. */
export const idleExportWorkers = (): number => idle.length;

/** Stops every idle worker (shutdown, tests); running exports keep theirs. */
export async function closeIdleExportWorkers(): Promise<void> {
  const all = idle.splice(0);
  await Promise.all(all.map((w) => w.stop()));
}

/**
 * The COPY output `copy` (the export's SELECT, ./placement-export.ts) as `setup.format`, formatted by
 * `options.workers` threads, in order. The first run carries the format's head; an export of no rows is its
 * head alone (with gzip, one member), as on the one-thread path.
 */
export async function* formatInWorkers(
  copy: AsyncIterable<Buffer>,
  setup: TextExport,
  options: WorkerOptions,
): AsyncGenerator<FormattedRun> {
  const count = Math.max(1, Math.min(MAX_EXPORT_WORKERS, Math.floor(options.workers)));
  const rowsPerRun = options.rowsPerRun ?? 8_192;
  const maxInFlight = Math.max(1, options.maxInFlight ?? 2 * count);
  const jobSetup: WorkerSetup = {
    ...setup,
    rowsPerRun,
    key: JSON.stringify([setup.format, setup.userSalt, setup.gzipLevel, rowsPerRun, setup.colorHex]),
  };
  const workers = leaseWorkers(count);
  const splitter = new CopyRowSplitter(rowsPerRun);
  const source = copy[Symbol.asyncIterator]();
  const ready: { rows: number; lastSeq: number; bytes: Buffer }[] = [];
  let sourceDone = false;
  /** The next run of rows, reading the source as needed; `null` at the end. */
  const nextRun = async (): Promise<{ rows: number; lastSeq: number; bytes: Buffer } | null> => {
    while (ready.length === 0 && !sourceDone) {
      const next = await source.next();
      if (next.done) {
        sourceDone = true;
        const last = splitter.end();
        if (last) ready.push(last);
      } else ready.push(...splitter.push(next.value));
    }
    return ready.shift() ?? null;
  };
  const inFlight: { done: Promise<Uint8Array>; rows: number; lastSeq: number }[] = [];
  let jobs = 0;
  let finished = false;
  try {
    for (;;) {
      while (inFlight.length < maxInFlight) {
        const run = await nextRun();
        // An export of no rows still has its head (and, gzipped, one member): one empty job.
        if (!run && jobs > 0) break;
        const id = jobs++;
        const job: WorkerJob = {
          id,
          setup: jobSetup,
          bytes: run?.bytes ?? Buffer.alloc(0),
          rows: run?.rows ?? 0,
          head: id === 0,
        };
        const done = (workers[id % count] as FormatWorker).run(job);
        // Awaited below in order; a rejection before then must not count as unhandled.
        done.catch(() => undefined);
        inFlight.push({ done, rows: job.rows, lastSeq: run?.lastSeq ?? 0 });
        if (!run) break;
      }
      const head = inFlight.shift();
      if (!head) break;
      yield { bytes: await head.done, rows: head.rows, lastSeq: head.lastSeq };
    }
    finished = true;
  } finally {
    if (finished) await parkWorkers(workers);
    else {
      // Stopped early or failed: the threads stop now, mid-run, and the read ends.
      const stopped = Promise.all(workers.map((w) => w.stop()));
      await source.return?.();
      await stopped;
    }
  }
}
