/**
 * The server side of `npm run bench -- players --server dev`: every role in one process, as `npm start`
 * runs them (roles.ts), without `npm start`'s service probing and web build, which a benchmark must not
 * wait for. Prints `ready <url>` once listening; SIGTERM stops the roles and exits.
 */
import { createLogger } from '../src/adapters/logger.ts';
import { setMetricsRole } from '../src/adapters/metrics.ts';
import { startAllRoles } from '../src/roles/dev/roles.ts';

setMetricsRole('all');
const logger = createLogger('all', process.env.LOG_LEVEL ?? 'warn');
const roles = await startAllRoles(process.env, logger);
process.stdout.write(`ready ${roles.url}\n`);
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  roles.shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
});
