/**
 * `rplace mod …` — moderation: bans, and rollbacks/restores written as compensating `PixelRestored` events.
 *
 *   rplace mod ban USER [--shadow]     ban (closes the user's sockets) or shadow-ban (they notice nothing)
 *   rplace mod unban USER
 *   rplace mod rollback --user USER [--since T] [--region x,y,w,h] [--yes]
 *   rplace mod restore --region x,y,w,h --at T [--yes]
 *
 * USER is a username or a user id (`u_…`, `g_…`). T is an ISO 8601 time, ms since the epoch, or an age
 * such as `30m`, `2h`, `1d` (that long ago). Rollback and restore print the plan first and ask before
 * writing; without a terminal to ask on they refuse unless `--yes` is given.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { commonSchema, canvasSpecOf, eventBoundsOf, natsAuthOf, type CommonConfig } from '../../config/common.ts';
import type { CanvasSize } from '../../domain/resize.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor, type Names } from '../../domain/names.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createNatsModerationLog } from '../../adapters/nats/moderation-log.ts';
import { createNatsRevocations } from '../../adapters/nats/revocations.ts';
import { createDurableBanStore } from '../../adapters/redis/ban-store.ts';
import { createPgBanRecords } from '../../adapters/pg/ban-records.ts';
import type { PgConnection } from '../../adapters/pg/connect.ts';
import { createPgUserStore } from '../../adapters/pg/user-store.ts';
import {
  createRollbackPlanner,
  createRestorePlanner,
  clipRegion,
  type ModerationPlan,
} from '../../domain/moderation/plan.ts';
import type { Region } from '../../domain/region.ts';
import { executePlan, planFromStream } from '../../app/moderation/execute.ts';
import { parseTime as parseTimeOf } from '../../domain/time.ts';
import { UsageError } from '../../exit-codes.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openNats, openPg, openRedis, withLifecycle, type Lifecycle } from '../../roles/lifecycle.ts';
import { confirm } from '../guard.ts';
import { userIdOf as userIdNamed } from '../../app/auth/user-ref.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';

/** A time option (the human grammar of src/domain/time.ts `parseTime`); a usage error when it is none. */
export function parseTime(value: string, now = Date.now()): number {
  const parsed = parseTimeOf(value, { human: { now } });
  if (parsed === null)
    throw new UsageError(`not a time: ${value} (use ISO 8601, ms since the epoch, or an age like 30m)`);
  return parsed;
}

export function parseRegion(value: string): Region {
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (
    parts.length !== 4 ||
    !parts.every((n) => Number.isSafeInteger(n) && n >= 0) ||
    parts[2] === 0 ||
    parts[3] === 0
  ) {
    throw new UsageError(`not a region: ${value} (use x,y,width,height with non-negative integers)`);
  }
  const [x, y, width, height] = parts as [number, number, number, number];
  return { x, y, w: width, h: height };
}

/** A username if an account has it, else a well-formed user id as given (guests have no account). */
async function userIdOf(pg: PgConnection, names: Names, user: string): Promise<string> {
  const store = createPgUserStore(pg.pool, names.pgSchema);
  const userId = await userIdNamed({ findByUsername: (name) => store.findByUsername(name).catch(() => null) }, user);
  if (userId === null) throw new UsageError(`no such user: ${user}`);
  return userId;
}

/** Postgres (fails fast with ServiceUnreachable, exit 3; the canvas's search_path), closed by `life`. */
function openUsersDb(life: Lifecycle, config: CommonConfig, names: Names): Promise<PgConnection> {
  return openPg(life, config.DATABASE_URL, names.pgSchema, cliLogger(), { max: 1 });
}

function printPlan(plan: ModerationPlan, what: string): void {
  process.stdout.write(
    `${what}\nplanned through stream sequence ${plan.throughSeq}: ${plan.matchedEvents} matching events, ${plan.changes.length} pixels to change\n`,
  );
  for (const c of plan.changes.slice(0, 20)) process.stdout.write(`  (${c.x}, ${c.y}): colour ${c.from} -> ${c.to}\n`);
  if (plan.changes.length > 20) process.stdout.write(`  … and ${plan.changes.length - 20} more\n`);
}

async function runPlan(
  config: CommonConfig,
  names: Names,
  what: string,
  makePlanner: (size: CanvasSize) => ReturnType<typeof createRollbackPlanner>,
  options: { yes?: boolean; as: string },
): Promise<void> {
  await withLifecycle(cliLogger(), async (life) => {
    const nc = await openNats(
      life,
      config.NATS_URL,
      'rplace-cli-mod',
      natsAuthOf(config, natsInboxPrefix('operator', names)),
    );
    const stream = createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(canvasSpecOf(config)),
      reader: 'moderation',
    });
    // Plans are made on the size in force now (a canvas grown at origin 0, 0 keeps every older coordinate).
    const size = (await stream.sizeAt(await stream.lastSeq())).size;
    const plan = await planFromStream(stream, makePlanner(size));
    printPlan(plan, what);
    if (plan.changes.length === 0) return;
    if (
      !(await confirm(`write ${plan.changes.length} PixelRestored events to ${names.stream}?`, options.yes === true))
    ) {
      process.stdout.write('nothing written\n');
      return;
    }
    const rollbackId = `rb_${randomBytes(6).toString('hex')}`;
    const result = await executePlan(plan, stream, createNatsModerationLog(nc, names), {
      width: size.width,
      moderatorId: options.as,
      rollbackId,
      now: () => Date.now(),
    });
    process.stdout.write(
      `${rollbackId}: wrote ${result.applied} events (through sequence ${result.lastSeq}); ${result.superseded} skipped because someone placed there since; ${result.contended.length} given up under contention${result.contended.length > 0 ? ' (run again)' : ''}\n`,
    );
  });
}

export function registerMod(program: Command): void {
  const mod = program.command('mod').description('moderation: bans, rollbacks and restores (as compensating events)');
  const setup = () => {
    const config = loadConfig(commonSchema);
    return { config, names: namesFor(config.CANVAS_ID) };
  };
  const moderatorOption = [
    '--as <moderator>',
    'moderator id recorded in the events',
    `m_${(process.env['USER'] ?? 'operator').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'operator'}`,
  ] as const;

  mod
    .command('ban <user>')
    .description('ban a user from placing; --shadow: their placements look accepted to them but reach nobody')
    .option('--shadow', 'shadow ban')
    .action(
      cliAction('mod ban', async (user: string, options: { shadow?: boolean }) => {
        const { config, names } = setup();
        await withLifecycle(cliLogger(), async (life) => {
          const pg = await openUsersDb(life, config, names);
          const userId = await userIdOf(pg, names, user);
          const redis = await openRedis(life, config.REDIS_URL, 'rplace-cli-mod');
          // Postgres first (the record that survives a Redis restart), then the copy the edges read.
          await createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pg.pool, names.pgSchema)).set(
            userId,
            options.shadow ? 'shadow' : 'ban',
          );
          if (!options.shadow) {
            const nc = await openNats(
              life,
              config.NATS_URL,
              'rplace-cli-mod',
              natsAuthOf(config, natsInboxPrefix('operator', names)),
            );
            await createNatsRevocations(nc, names.canvasId).userBanned(userId);
          }
          process.stdout.write(`${options.shadow ? 'shadow-banned' : 'banned'} ${user} (${userId})\n`);
        });
      }),
    );

  mod
    .command('unban <user>')
    .description('lift a ban or shadow ban')
    .action(
      cliAction('mod unban', async (user: string) => {
        const { config, names } = setup();
        await withLifecycle(cliLogger(), async (life) => {
          const pg = await openUsersDb(life, config, names);
          const userId = await userIdOf(pg, names, user);
          const redis = await openRedis(life, config.REDIS_URL, 'rplace-cli-mod');
          const lifted = await createDurableBanStore(
            redis,
            names.redisPrefix,
            createPgBanRecords(pg.pool, names.pgSchema),
          ).clear(userId);
          process.stdout.write(lifted ? `unbanned ${user} (${userId})\n` : `${user} (${userId}) was not banned\n`);
        });
      }),
    );

  mod
    .command('rollback')
    .description(
      "restore every pixel whose latest placement is the user's to what it was before, unless someone else placed there since",
    )
    .requiredOption('--user <user>', 'username or user id')
    .option('--since <time>', 'only placements at or after this time')
    .option('--region <x,y,w,h>', 'only inside this rectangle')
    .option('--yes', 'do not ask for confirmation')
    .option(...moderatorOption)
    .action(
      cliAction(
        'mod rollback',
        async (options: { user: string; since?: string; region?: string; yes?: boolean; as: string }) => {
          const { config, names } = setup();
          const since = options.since === undefined ? undefined : parseTime(options.since);
          const asked = options.region === undefined ? undefined : parseRegion(options.region);
          const userId = await withLifecycle(cliLogger(), async (life) =>
            userIdOf(await openUsersDb(life, config, names), names, options.user),
          );
          const what = `rollback of ${options.user} (${userId})${since === undefined ? '' : ` since ${new Date(since).toISOString()}`}${asked ? ` in ${asked.x},${asked.y},${asked.w},${asked.h}` : ''} on ${names.stream}`;
          await runPlan(
            config,
            names,
            what,
            (size) => {
              const region = asked === undefined ? undefined : clipRegion(asked, size.width, size.height);
              return createRollbackPlanner(size.width, size.height, {
                userId,
                ...(since === undefined ? {} : { since }),
                ...(region ? { region } : {}),
              });
            },
            options,
          );
        },
      ),
    );

  mod
    .command('restore')
    .description('restore a region to how it was at a moment')
    .requiredOption('--region <x,y,w,h>', 'the rectangle to restore')
    .requiredOption('--at <time>', 'the moment to restore to')
    .option('--yes', 'do not ask for confirmation')
    .option(...moderatorOption)
    .action(
      cliAction('mod restore', async (options: { region: string; at: string; yes?: boolean; as: string }) => {
        const { config, names } = setup();
        const asked = parseRegion(options.region);
        const at = parseTime(options.at);
        const what = `restore of ${asked.x},${asked.y},${asked.w},${asked.h} to ${new Date(at).toISOString()} on ${names.stream}`;
        await runPlan(
          config,
          names,
          what,
          (size) =>
            createRestorePlanner(size.width, size.height, { at, region: clipRegion(asked, size.width, size.height) }),
          options,
        );
      }),
    );
}
