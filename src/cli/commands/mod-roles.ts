/**
 * `rplace mod grant|revoke` — the moderator role (migrations/0007_moderators.ts), which the web console's
 * API (/api/v1/mod/…) checks on every request:
 *
 *   rplace mod grant USER     USER (a username or `u_…` id of an account) becomes a moderator
 *   rplace mod revoke USER    takes the role away; the user's next moderator request is refused (403)
 *
 * Registered on the `mod` command group that mod.ts creates. Both are idempotent and recorded in the
 * moderator action log as the operator (`--as`).
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { commonSchema } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { connectPg } from '../../adapters/pg/connect.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createPgModeratorActions, createPgModeratorRoles } from '../../adapters/pg/moderators.ts';
import { createPgUserStore } from '../../adapters/pg/user-store.ts';
import { UsageError } from '../../exit-codes.ts';
import { cliAction } from '../action.ts';

const USER_ID = /^u_[A-Za-z0-9_-]{1,62}$/;
const operator = `m_${(process.env['USER'] ?? 'operator').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'operator'}`;

async function withRoles(
  user: string,
  run: (
    userId: string,
    deps: { roles: ReturnType<typeof createPgModeratorRoles>; actions: ReturnType<typeof createPgModeratorActions> },
  ) => Promise<void>,
): Promise<void> {
  const config = loadConfig(commonSchema);
  const names = namesFor(config.CANVAS_ID);
  const { pool } = await connectPg(config.DATABASE_URL, names.pgSchema, pino({ level: 'silent' }), { max: 1 });
  try {
    await migrateToLatest(pool, names.pgSchema); // the roles table may be newer than the edges that created the schema
    const account =
      (await createPgUserStore(pool, names.pgSchema).findByUsername(user)) ??
      (USER_ID.test(user) ? await createPgUserStore(pool, names.pgSchema).findById(user) : null);
    if (account === null) throw new UsageError(`no such account: ${user} (guests cannot be moderators)`);
    await run(account.userId, {
      roles: createPgModeratorRoles(pool, names.pgSchema),
      actions: createPgModeratorActions(pool, names.pgSchema),
    });
  } finally {
    await pool.end();
  }
}

export function registerModRoles(program: Command): void {
  const mod = program.commands.find((c) => c.name() === 'mod') ?? program.command('mod').description('moderation');
  mod
    .command('grant <user>')
    .description('give an account the moderator role (the web moderator console)')
    .option('--as <operator>', 'who is granting, recorded in the moderator action log', operator)
    .action(
      cliAction('mod grant', async (user: string, options: { as: string }) => {
        await withRoles(user, async (userId, { roles, actions }) => {
          if (!(await roles.grant(userId, options.as))) throw new UsageError(`no such account: ${user}`);
          await actions.record({ moderatorId: options.as, action: 'grant', targetId: userId });
          process.stdout.write(`${user} (${userId}) is a moderator\n`);
        });
      }),
    );
  mod
    .command('revoke <user>')
    .description('take the moderator role away; their next moderator request is refused')
    .option('--as <operator>', 'who is revoking, recorded in the moderator action log', operator)
    .action(
      cliAction('mod revoke', async (user: string, options: { as: string }) => {
        await withRoles(user, async (userId, { roles, actions }) => {
          const revoked = await roles.revoke(userId);
          if (revoked) await actions.record({ moderatorId: options.as, action: 'revoke', targetId: userId });
          process.stdout.write(
            revoked ? `${user} (${userId}) is no longer a moderator\n` : `${user} (${userId}) was not a moderator\n`,
          );
        });
      }),
    );
}
