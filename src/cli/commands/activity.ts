/**
 * Heatmap and virgin map from the command line (src/app/history/heatmap.ts; the same as the API's):
 *
 *   rplace heatmap [--from T] [--to T] -o heat.png [--raw]   placements per pixel (raw: u32 little-endian each)
 *   rplace virgin [--to T] -o virgin.png [--raw]             white where nothing was ever placed (raw: 1/0 bytes)
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { pino } from 'pino';
import { encodePng } from '../../adapters/image/png.ts';
import { connectPg } from '../../adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createPgPixelActivity } from '../../adapters/pg/pixel-activity.ts';
import { createPgPlacementLog } from '../../adapters/pg/placement-export.ts';
import { planExport } from '../../app/history/export.ts';
import { HEAT_PALETTE, heatIndices, maxCount, VIRGIN_PALETTE, virginIndices } from '../../app/history/heatmap.ts';
import { cliAction } from '../action.ts';
import { canvasSpecOf } from '../../config/common.ts';
import { historySchema } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../config/names.ts';
import { CliUsageError, parseTime } from './mod.ts';

async function activityMap(kind: 'heatmap' | 'virgin', opts: { from?: string; to?: string; output: string; raw?: boolean }): Promise<void> {
  const from = opts.from === undefined ? undefined : parseTime(opts.from);
  const to = opts.to === undefined ? undefined : parseTime(opts.to);
  const config = loadConfig(historySchema);
  const spec = canvasSpecOf(config);
  const names = namesFor(config.CANVAS_ID);
  const logger = pino({ level: 'warn' });
  const pg = await connectPg(config.DATABASE_URL, names.pgSchema, logger, { statementTimeoutMs: 0 });
  try {
    await migrateToLatest(pg.pool, names.pgSchema);
    const planned = await planExport(createPgHistoryStore(pg, logger), createPgPlacementLog(pg, names.consumers.history), spec, {
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
    }, Date.now());
    if (!planned.ok) throw new CliUsageError(planned.problems.join('; '));
    const after = kind === 'heatmap' ? planned.plan.fromSeq : 0;
    const started = Date.now();
    const counts = await createPgPixelActivity(pg).counts(after, planned.plan.toSeq, spec.width, spec.height);
    const max = maxCount(counts);
    let bytes: Uint8Array;
    if (kind === 'heatmap') bytes = opts.raw ? new Uint8Array(counts.buffer) : await encodePng(heatIndices(counts, max), spec.width, spec.height, HEAT_PALETTE);
    else bytes = opts.raw ? virginIndices(counts) : await encodePng(virginIndices(counts), spec.width, spec.height, VIRGIN_PALETTE);
    await writeFile(opts.output, bytes);
    const virgin = counts.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
    process.stdout.write(kind === 'heatmap'
      ? `${opts.output}: placements per pixel, seq ${after + 1}..${planned.plan.toSeq}, busiest pixel ${max}, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`
      : `${opts.output}: ${virgin} of ${counts.length} pixels never placed through seq ${planned.plan.toSeq}, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await pg.close();
  }
}

export function registerActivity(program: Command): void {
  program.command('heatmap')
    .description('placements per pixel over a range, as a PNG (black: none, purple to pale yellow: one to the most)')
    .option('--from <time>', 'start instant (default: the first event)')
    .option('--to <time>', 'end instant (default: everything the history holds)')
    .option('--raw', 'raw counts instead of PNG: width × height u32, little-endian, row-major')
    .requiredOption('-o, --output <file>', 'output file')
    .action(cliAction('heatmap', (opts: { from?: string; to?: string; output: string; raw?: boolean }) => activityMap('heatmap', opts)));
  program.command('virgin')
    .description('the pixels never placed up to an instant, as a PNG (white: never placed)')
    .option('--to <time>', 'instant (default: everything the history holds)')
    .option('--raw', 'raw bytes instead of PNG: 1 never placed, 0 placed, row-major')
    .requiredOption('-o, --output <file>', 'output file')
    .action(cliAction('virgin', (opts: { to?: string; output: string; raw?: boolean }) => activityMap('virgin', opts)));
}
