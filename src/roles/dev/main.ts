/**
 * `npm start`: the whole product in one process on one machine.
 *
 * 1. Probe NATS (JetStream), Redis and Postgres at their configured URLs; start a local one under
 *    DATA_DIR (default .data/) for any that is down on its default loopback port, or say which apt
 *    package to install. Local services are stopped on exit.
 * 2. Generate the dev session secret once (.data/session-secret) unless SESSION_SECRET is set.
 * 3. (Re)build the web client when dist/web is missing or older than web/.
 * 4. Start every role in this process (see roles.ts), print the URL, and on SIGINT/SIGTERM stop the
 *    roles, then the services this process started.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceUnreachable } from '../../ports/errors.ts';
import { createLogger } from '../../adapters/logger.ts';
import { setMetricsRole } from '../../adapters/metrics.ts';
import { ServiceStartFailed } from '../../adapters/services/local.ts';
import { devSchema } from '../../config/dev.ts';
import { loadConfig } from '../../config/load.ts';
import { runRole } from '../run-role.ts';
import { startAllRoles } from './roles.ts';
import { devSessionSecret } from './secret.ts';
import { ensureServices } from './services.ts';
import { needsWebBuild, newestMtime, runWebBuild } from './web-build.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');

await runRole('start', async () => {
  const config = loadConfig(devSchema);
  setMetricsRole('all');
  const logger = createLogger('all', config.LOG_LEVEL);
  const dataDir = resolve(root, config.DATA_DIR);

  let services;
  try {
    services = await ensureServices(
      { nats: config.NATS_URL, redis: config.REDIS_URL, postgres: config.DATABASE_URL },
      dataDir,
      config.START_SERVICES === '1',
      logger,
    );
  } catch (error) {
    if (error instanceof ServiceStartFailed) throw new ServiceUnreachable(error.message, { cause: error });
    throw error;
  }

  try {
    const env: Record<string, string | undefined> = { ...process.env };
    // A demo on one machine: guests may place unless the operator says otherwise (production roles default to off).
    env.ALLOW_GUEST_PLACEMENT ??= '1';
    if (!env.SESSION_SECRET) {
      const { secret, created } = devSessionSecret(join(dataDir, 'session-secret'));
      if (created) logger.info(`generated a dev session secret in ${join(config.DATA_DIR, 'session-secret')}`);
      env.SESSION_SECRET = secret;
    }
    // Dataset exports hash user ids with a secret salt; on one machine, one derived from the session secret.
    env.EXPORT_USER_SALT ??= createHash('sha256').update(`rplace-export-salt:${env.SESSION_SECRET}`).digest('hex');

    // The client bundles proto/ (the shared WebSocket client) as well as web/.
    const sources = Math.max(newestMtime(join(root, 'web')) ?? 0, newestMtime(join(root, 'proto')) ?? 0) || null;
    if (needsWebBuild(sources, newestMtime(join(root, 'dist', 'web')))) {
      logger.info('building the web client (npm run build:web)');
      const code = await runWebBuild(root);
      if (code !== 0)
        logger.warn(
          { exitCode: code },
          'the web client build failed; the API and WebSocket run, but the page will not load until `npm run build:web` succeeds',
        );
    }

    const roles = await startAllRoles(env, logger);
    process.stdout.write(
      `\nrplace is running: ${roles.url}\n  roles: ${roles.names.join(', ')}\n  Ctrl-C stops it${services.started.length > 0 ? ` and the local ${services.started.map((s) => s.kind).join(', ')} it started` : ''}\n\n`,
    );
    return async () => {
      logger.info('stopping');
      try {
        await roles.shutdown();
      } finally {
        await services.stop();
      }
    };
  } catch (error) {
    await services.stop();
    throw error;
  }
});
