/**
 * Heatmap and virgin map from the command line (src/app/history/heatmap.ts; the same as the API's):
 *
 *   rplace heatmap [--from T] [--to T] -o heat.png [--raw]   placements per pixel (raw: u32 little-endian each)
 *   rplace virgin [--to T] -o virgin.png [--raw]             white where nothing was ever placed (raw: 1/0 bytes)
 *   rplace user-history USER [--limit N] [--before SEQ] [--json]   a user's placements, newest first, paged
 *
 * Per-user history is an operator's tool here: the accounts have no moderator role yet, so the HTTP API does
 * not serve anyone's placements (a player's own would need the edge's session lookup).
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { pino } from 'pino';
import { encodePng } from '../../adapters/image/png.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createPgPixelActivity } from '../../adapters/pg/pixel-activity.ts';
import { createPgPlacementLog } from '../../adapters/pg/placement-export.ts';
import { createPgUserPlacements } from '../../adapters/pg/user-history.ts';
import { userPlacementJson } from '../../app/history/user-route.ts';
import { createPgUserStore } from '../../adapters/pg/user-store.ts';
import { planExport, timeBoundsOf } from '../../app/history/export.ts';
import { HEAT_PALETTE, heatIndices, maxCount, VIRGIN_PALETTE, virginIndices } from '../../app/history/heatmap.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openPg, withLifecycle } from '../../roles/lifecycle.ts';
import { canvasSpecOf } from '../../config/common.ts';
import { historySchema } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { UsageError } from '../../exit-codes.ts';
import { parseTime } from './mod.ts';

async function activityMap(
  kind: 'heatmap' | 'virgin',
  opts: { from?: string; to?: string; output: string; raw?: boolean },
): Promise<void> {
  const from = opts.from === undefined ? undefined : parseTime(opts.from);
  const to = opts.to === undefined ? undefined : parseTime(opts.to);
  const config = loadConfig(historySchema);
  const spec = canvasSpecOf(config);
  const names = namesFor(config.CANVAS_ID);
  const logger = pino({ level: 'warn' });
  await withLifecycle(cliLogger(), async (life) => {
    const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, logger, { statementTimeoutMs: 0 });
    await migrateToLatest(pg.pool, names.pgSchema);
    const planned = await planExport(
      createPgHistoryStore(pg, logger),
      createPgPlacementLog(pg, names.consumers.history),
      spec,
      timeBoundsOf({ from, to }),
      Date.now(),
    );
    if (!planned.ok) throw new UsageError(planned.problems.join('; '));
    const after = kind === 'heatmap' ? planned.plan.fromSeq : 0;
    const started = Date.now();
    const counts = await createPgPixelActivity(pg).counts(after, planned.plan.toSeq, spec.width, spec.height);
    const max = maxCount(counts);
    let bytes: Uint8Array;
    if (kind === 'heatmap')
      bytes = opts.raw
        ? new Uint8Array(counts.buffer)
        : await encodePng(heatIndices(counts, max), spec.width, spec.height, HEAT_PALETTE);
    else
      bytes = opts.raw
        ? virginIndices(counts)
        : await encodePng(virginIndices(counts), spec.width, spec.height, VIRGIN_PALETTE);
    await writeFile(opts.output, bytes);
    const virgin = counts.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
    process.stdout.write(
      kind === 'heatmap'
        ? `${opts.output}: placements per pixel, seq ${after + 1}..${planned.plan.toSeq}, busiest pixel ${max}, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`
        : `${opts.output}: ${virgin} of ${counts.length} pixels never placed through seq ${planned.plan.toSeq}, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
}

async function userHistory(user: string, opts: { limit: string; before?: string; json?: boolean }): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError('--limit must be an integer 1-10000');
  if (opts.before !== undefined && !/^\d{1,15}$/.test(opts.before))
    throw new UsageError('--before must be a sequence number');
  const config = loadConfig(historySchema);
  const spec = canvasSpecOf(config);
  const names = namesFor(config.CANVAS_ID);
  await withLifecycle(cliLogger(), async (life) => {
    const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, pino({ level: 'warn' }));
    await migrateToLatest(pg.pool, names.pgSchema);
    // A username if an account has it, else the user id as given (guests have no account).
    const account = await createPgUserStore(pg.pool, names.pgSchema)
      .findByUsername(user)
      .catch(() => null);
    const userId = account?.userId ?? user;
    const rows = await createPgUserPlacements(pg.pool, names.pgSchema)(
      userId,
      opts.before === undefined ? Number.MAX_SAFE_INTEGER : Number(opts.before),
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? (page.at(-1)?.seq ?? null) : null;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({
          userId,
          placements: page.map(userPlacementJson),
          nextBefore: next,
        })}\n`,
      );
      return;
    }
    process.stdout.write(
      `${userId}: ${page.length} placement(s)${opts.before ? ` before seq ${opts.before}` : ''}, newest first\n`,
    );
    for (const p of page) {
      const colour = spec.palette[p.color]?.name ?? `colour ${p.color}`;
      process.stdout.write(
        `  seq ${p.seq}  ${new Date(p.placedAt).toISOString()}  (${p.x},${p.y})  ${colour}${p.kind === 2 ? '  (restored by a moderator)' : ''}\n`,
      );
    }
    if (next !== null) process.stdout.write(`more: --before ${next}\n`);
  });
}

export function registerActivity(program: Command): void {
  program
    .command('user-history <user>')
    .description("a user's placements (username or user id), newest first, a page at a time")
    .option('--limit <n>', 'placements per page (1-10000)', '50')
    .option('--before <seq>', 'the page before this sequence (printed as "more: --before N")')
    .option('--json', 'one JSON object: { userId, placements, nextBefore }')
    .action(cliAction('user-history', userHistory));
  program
    .command('heatmap')
    .description('placements per pixel over a range, as a PNG (black: none, purple to pale yellow: one to the most)')
    .option('--from <time>', 'start instant (default: the first event)')
    .option('--to <time>', 'end instant (default: everything the history holds)')
    .option('--raw', 'raw counts instead of PNG: width × height u32, little-endian, row-major')
    .requiredOption('-o, --output <file>', 'output file')
    .action(
      cliAction('heatmap', (opts: { from?: string; to?: string; output: string; raw?: boolean }) =>
        activityMap('heatmap', opts),
      ),
    );
  program
    .command('virgin')
    .description('the pixels never placed up to an instant, as a PNG (white: never placed)')
    .option('--to <time>', 'instant (default: everything the history holds)')
    .option('--raw', 'raw bytes instead of PNG: 1 never placed, 0 placed, row-major')
    .requiredOption('-o, --output <file>', 'output file')
    .action(cliAction('virgin', (opts: { to?: string; output: string; raw?: boolean }) => activityMap('virgin', opts)));
}
