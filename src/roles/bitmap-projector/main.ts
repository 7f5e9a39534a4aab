/**
 * Entry point of the bitmap projector role: `node dist/src/roles/bitmap-projector/main.js` in production,
 * `tsx src/roles/bitmap-projector/main.ts` from the source. Only the shell is imported statically (see
 * the edge's main.ts).
 */
import { runRole } from '../run-role.ts';

await runRole('bitmap-projector', async () => {
  const [{ createLogger }, { setMetricsRole }, { startRoleMetrics }, { bitmapProjectorSchema }, { loadConfig }, { startBitmapProjector }] = await Promise.all([
    import('../../adapters/logger.ts'), import('../../adapters/metrics.ts'), import('../../adapters/metrics-server.ts'),
    import('../../config/bitmap-projector.ts'), import('../../config/load.ts'), import('./start.ts'),
  ]);
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
