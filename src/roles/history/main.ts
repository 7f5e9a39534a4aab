/**
 * Entry point of the history role (projector + snapshotter): `node dist/src/roles/history/main.js` in
 * production, `tsx src/roles/history/main.ts` from the source. The history API is served by every edge
 * (src/roles/edge/with-history.ts). Only the shell is imported statically (see the edge's main.ts).
 */
import { runRole } from '../run-role.ts';

await runRole('history', async () => {
  const [
    { createLogger },
    { setMetricsRole },
    { startMetricsServer },
    { historySchema },
    { loadConfig },
    { startHistory },
    { startWith, ROLE_CLOSE_TIMEOUT_MS },
  ] = await Promise.all([
    import('../../adapters/logger.ts'),
    import('../../adapters/metrics.ts'),
    import('../../adapters/metrics-server.ts'),
    import('../../config/history.ts'),
    import('../../config/load.ts'),
    import('./start.ts'),
    import('../lifecycle.ts'),
  ]);
  const config = loadConfig(historySchema);
  const logger = createLogger('history', config.LOG_LEVEL);
  setMetricsRole('history');
  return startWith(
    logger,
    async (life) => {
      life.defer({ name: 'history', close: await startHistory(config, logger) });
      if (config.METRICS_PORT !== undefined) {
        const port = config.METRICS_PORT;
        await life.open(
          'metrics listener',
          () => startMetricsServer(port, logger),
          (server) => server.close(),
        );
      }
    },
    { closeTimeoutMs: ROLE_CLOSE_TIMEOUT_MS },
  );
});
