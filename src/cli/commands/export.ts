/**
 * `rplace export`: the dataset of every placement in a range (src/app/history/export.ts), as CSV in the shape
 * of Reddit's r/place 2022 file, NDJSON or Parquet, optionally gzipped, to a file or stdout.
 *
 *   rplace export [--from T] [--to T] [--format csv|ndjson|parquet] [--gzip] [--region x,y,w,h]
 *                 [--after-seq N] [--raw-user-ids] [--workers N] [-o FILE]
 *
 * User ids are salted hashes (EXPORT_USER_SALT) unless `--raw-user-ids`. Progress (by sequence) goes to
 * stderr. Gzip'd CSV and NDJSON are formatted and compressed by `--workers` threads (default EXPORT_WORKERS:
 * min(2, cores); 0: on the main thread; plain text is faster on the main thread: src/app/history/export.ts),
 * the same bytes either way (one gzip member per run). Ctrl-C stops after the batch in hand and still closes the file properly (a complete gzip stream, a
 * Parquet footer), then prints the `--after-seq` that resumes it; the exit status is then 130.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { GZIP_LEVEL, gzipChunks } from '../../adapters/gzip-stream.ts';
import { createParquetEncoder } from '../../adapters/parquet/placements-parquet.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createPgPlacementLog } from '../../adapters/pg/placement-export.ts';
import { exportBytes, planExport, timeBoundsOf } from '../../app/history/export.ts';
import { colorHexes, EXPORT_FORMATS, rawUserKey, type ExportFormat } from '../../domain/history/export-format.ts';
import { saltedUserKey } from '../../app/history/user-key.ts';
import type { PlacementLog } from '../../ports/export.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openPg, withLifecycle } from '../../roles/lifecycle.ts';
import { canvasSpecOf } from '../../config/common.ts';
import { historySchema } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { UsageError } from '../../exit-codes.ts';
import { parseRegion, parseTime } from './mod.ts';

interface ExportOptions {
  from?: string;
  to?: string;
  format?: string;
  gzip?: boolean;
  region?: string;
  afterSeq?: string;
  rawUserIds?: boolean;
  workers?: string;
  output?: string;
}

/** `--format`, else the output's extension (`.csv`, `.ndjson`/`.jsonl`, `.parquet`, each optionally `.gz`), else csv. */
function formatOf(
  output: string | undefined,
  format: string | undefined,
  gzip: boolean,
): { format: ExportFormat; gzip: boolean } {
  const gz = gzip || Boolean(output?.toLowerCase().endsWith('.gz'));
  if (format !== undefined) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format))
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
    return { format: format as ExportFormat, gzip: gz };
  }
  const name = (output ?? '').toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return { format: 'ndjson', gzip: gz };
  if (name.endsWith('.parquet')) return { format: 'parquet', gzip: gz };
  return { format: 'csv', gzip: gz };
}

async function runExport(opts: ExportOptions): Promise<void> {
  const { format, gzip } = formatOf(opts.output, opts.format, Boolean(opts.gzip));
  const from = opts.from === undefined ? undefined : parseTime(opts.from);
  const to = opts.to === undefined ? undefined : parseTime(opts.to);
  if (opts.afterSeq !== undefined && !/^\d{1,15}$/.test(opts.afterSeq))
    throw new UsageError('--after-seq must be a sequence number');
  const afterSeq = opts.afterSeq === undefined ? undefined : Number(opts.afterSeq);
  if (opts.workers !== undefined && !/^\d$/.test(opts.workers)) throw new UsageError('--workers must be 0 to 8');
  const config = loadConfig(historySchema);
  const workers = opts.workers === undefined ? config.EXPORT_WORKERS : Number(opts.workers);
  if (workers > 8) throw new UsageError('--workers must be 0 to 8');
  if (!opts.rawUserIds && !config.EXPORT_USER_SALT)
    throw new UsageError(
      "user ids are published as salted hashes: set EXPORT_USER_SALT (the same secret as the API's), or pass --raw-user-ids",
    );
  const spec = canvasSpecOf(config);
  const region = opts.region === undefined ? undefined : parseRegion(opts.region);
  const names = namesFor(config.CANVAS_ID);
  const logger = pino({ level: 'warn' });
  await withLifecycle(cliLogger(), async (life) => {
    const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, logger, { statementTimeoutMs: 0 });
    await migrateToLatest(pg.pool, names.pgSchema);
    const store = createPgHistoryStore(pg, logger);
    const pgLog = createPgPlacementLog(pg, names.consumers.history, { workers });
    const planned = await planExport(
      store,
      pgLog,
      spec,
      {
        ...timeBoundsOf({ from, to }),
        ...(afterSeq === undefined ? {} : { afterSeq }),
        ...(region ? { region } : {}),
      },
      Date.now(),
    );
    if (!planned.ok) throw new UsageError(planned.problems.join('; '));
    const { plan } = planned;
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
    };
    process.on('SIGINT', onSigint);
    // Stops between batches (runs, with workers), so every format still ends properly (the file holds whole
    // batches; with gzip, whole members).
    const formatted = pgLog.formatted?.bind(pgLog);
    const log: PlacementLog = {
      lastSeq: () => pgLog.lastSeq(),
      async *placements(a, b, reg) {
        for await (const batch of pgLog.placements(a, b, reg)) {
          yield batch;
          if (interrupted) return;
        }
      },
      ...(formatted
        ? {
            async *formatted(a, b, reg, text) {
              for await (const run of formatted(a, b, reg, text)) {
                yield run;
                if (interrupted) return;
              }
            },
          }
        : {}),
    };
    const out: Writable =
      opts.output === undefined || opts.output === '-' ? process.stdout : createWriteStream(opts.output);
    if (out !== process.stdout) await once(out, 'open');
    let writeError: Error | null = null;
    out.on('error', (error) => (writeError = error));
    const span = Math.max(0, plan.toSeq - plan.startSeq);
    const progress = new cliProgress.SingleBar(
      {
        format: 'export [{bar}] {percentage}% | seq {seq} | {rows} rows | {rate}',
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    progress.start(span, 0, { seq: plan.startSeq, rows: 0, rate: '' });
    const started = Date.now();
    let rows = 0,
      lastSeq = plan.startSeq;
    const encoded = exportBytes(log, plan, {
      format,
      userKey: opts.rawUserIds ? rawUserKey : saltedUserKey(config.EXPORT_USER_SALT as string),
      userSalt: opts.rawUserIds ? null : (config.EXPORT_USER_SALT as string),
      ...(gzip ? { gzip: { level: GZIP_LEVEL, stream: gzipChunks } } : {}),
      colorHex: colorHexes(spec.palette),
      parquet: createParquetEncoder(),
      onBatch: (seq, n) => {
        rows += n;
        lastSeq = seq;
        progress.update(seq - plan.startSeq, {
          seq,
          rows,
          rate: `${Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000))} ev/s`,
        });
      },
    });
    try {
      for await (const bytes of encoded) {
        if (!out.write(bytes)) await once(out, 'drain');
        if (writeError) throw writeError;
      }
      if (out !== process.stdout) {
        out.end();
        await once(out, 'finish');
      }
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
    }
    const seconds = (Date.now() - started) / 1000;
    const through = interrupted ? lastSeq : plan.toSeq;
    process.stderr.write(
      `${interrupted ? 'interrupted: ' : ''}exported ${rows} placements (seq ${plan.startSeq + 1}..${through}) as ${format}${gzip ? '.gz' : ''} in ${seconds.toFixed(1)} s (${Math.round(rows / Math.max(0.001, seconds))} ev/s)${opts.output && opts.output !== '-' ? ` to ${opts.output}` : ''}\n`,
    );
    if (interrupted) {
      process.stderr.write(`resume with --after-seq ${through}\n`);
      process.exitCode = 130;
    }
  });
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write every placement of a range as CSV (r/place 2022 shape), NDJSON or Parquet, in stream order')
    .option('--from <time>', 'start instant: ISO 8601, ms since the epoch or an age like 2h (default: the first event)')
    .option('--to <time>', 'end instant (default: everything the history holds)')
    .option('--format <f>', `${EXPORT_FORMATS.join(', ')} (default: from the output's extension, else csv)`)
    .option('--gzip', 'gzip the output (implied by an output ending in .gz)')
    .option('--region <x,y,w,h>', 'only placements inside this region')
    .option('--after-seq <n>', 'resume: only placements after this sequence (printed by an interrupted export)')
    .option('--raw-user-ids', 'write user ids as stored instead of salted hashes (operators only)')
    .option(
      '--workers <n>',
      'threads formatting and compressing gzip CSV/NDJSON, 0-8 (default: EXPORT_WORKERS, min(2, cores))',
    )
    .option('-o, --output <file>', 'output file (default: stdout)')
    .action(cliAction('export', runExport));
}
