/** Entry point of the history role (projector + snapshotter): `tsx src/roles/history/main.ts`. */
import { createLogger } from '../../adapters/logger.ts';
import { setMetricsRole } from '../../adapters/metrics.ts';
import { startMetricsServer } from '../../adapters/metrics-server.ts';
import { historySchema } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { runRole } from '../run-role.ts';
import { startHistory } from './start.ts';

await runRole('history', async () => {
  const config = loadConfig(historySchema);
  const logger = createLogger('history', config.LOG_LEVEL);
  setMetricsRole('history');
  const stop = await startHistory(config, logger);
  const server = config.METRICS_PORT === undefined ? null : await startMetricsServer(config.METRICS_PORT, logger);
  return async () => {
    await server?.close();
    await stop();
  };
});
