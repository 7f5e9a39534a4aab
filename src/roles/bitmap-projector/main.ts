/** Entry point of the bitmap projector role: `tsx src/roles/bitmap-projector/main.ts`. */
import { createLogger } from '../../adapters/logger.ts';
import { setMetricsRole } from '../../adapters/metrics.ts';
import { startRoleMetrics } from '../../adapters/metrics-server.ts';
import { bitmapProjectorSchema } from '../../config/bitmap-projector.ts';
import { loadConfig } from '../../config/load.ts';
import { runRole } from '../run-role.ts';
import { startBitmapProjector } from './start.ts';

await runRole('bitmap-projector', async () => {
  const config = loadConfig(bitmapProjectorSchema);
  const logger = createLogger('bitmap-projector', config.LOG_LEVEL);
  setMetricsRole('bitmap-projector');
  const stop = await startBitmapProjector(config, logger);
  const stopMetrics = await startRoleMetrics(config, logger);
  return async () => {
    await stopMetrics();
    await stop();
  };
});
