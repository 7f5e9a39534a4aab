/**
 * `rplace streams apply`: creates or updates the canvas's stream from streams/definitions.ts, idempotently
 * (the same runs when a role starts). Never deletes data. The projections' durable consumers are not created
 * here: each projector creates its own, positioned at the sequence its store holds.
 */
import type { Command } from 'commander';
import { commonSchema, natsAuthOf } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { applyStreams } from '../../../streams/apply.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openNats, withLifecycle } from '../../roles/lifecycle.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';

export function registerStreams(program: Command): void {
  const streams =
    program.commands.find((c) => c.name() === 'streams') ??
    program.command('streams').description('the JetStream stream, as code');
  streams
    .command('apply')
    .description('create or update the canvas stream (idempotent; prints created, updated or unchanged)')
    .action(
      cliAction('streams apply', async () => {
        const config = loadConfig(commonSchema);
        const names = namesFor(config.CANVAS_ID);
        await withLifecycle(cliLogger(), async (life) => {
          const nc = await openNats(
            life,
            config.NATS_URL,
            `rplace-cli-streams-${names.canvasId}`,
            natsAuthOf(config, natsInboxPrefix('operator', names)),
          );
          const { outcome, info } = await applyStreams(nc, names, { replicas: config.STREAM_REPLICAS });
          process.stdout.write(
            `stream ${names.stream} (${names.subjects}): ${outcome}; ${info.state.messages} messages, last sequence ${info.state.last_seq}\n`,
          );
        });
      }),
    );
}
