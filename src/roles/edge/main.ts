/** Entry point of the edge role: `tsx src/roles/edge/main.ts`. */
import { createLogger } from '../../adapters/logger.ts';
import { setMetricsRole } from '../../adapters/metrics.ts';
import { edgeSchema } from '../../config/edge.ts';
import { loadConfig } from '../../config/load.ts';
import { runRole } from '../run-role.ts';
import { startEdge } from './start.ts';

await runRole('edge', async () => {
  const config = loadConfig(edgeSchema);
  setMetricsRole('edge');
  return startEdge(config, createLogger('edge', config.LOG_LEVEL));
});
