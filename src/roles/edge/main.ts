/**
 * Entry point of the edge role (with the history API): `node dist/src/roles/edge/main.js` in production,
 * `tsx src/roles/edge/main.ts` from the source. Only the shell is imported statically, so a half-built
 * dist/ or a missing dependency is reported by runRole in one line.
 */
import { runRole } from '../run-role.ts';

await runRole('edge', async () => {
  const [
    { createLogger },
    { setMetricsRole },
    { edgeSchema },
    { historySchema },
    { loadConfig },
    { startEdgeWithHistory },
  ] = await Promise.all([
    import('../../adapters/logger.ts'),
    import('../../adapters/metrics.ts'),
    import('../../config/edge.ts'),
    import('../../config/history.ts'),
    import('../../config/load.ts'),
    import('./with-history.ts'),
  ]);
  const config = loadConfig(edgeSchema);
  const history = loadConfig(historySchema);
  setMetricsRole('edge');
  return startEdgeWithHistory(config, history, createLogger('edge', config.LOG_LEVEL));
});
