/**
 * Entry point of the bitmap projector role: `node dist/src/roles/bitmap-projector/main.js` in production,
 * `tsx src/roles/bitmap-projector/main.ts` from the source. Only the shell is imported statically (see
 * the edge's main.ts).
 */
import { runRole } from '../run-role.ts';

await runRole('bitmap-projector', async () => {
  const [
    { createLogger },
    { setMetricsRole },
    { startRoleMetrics },
    { bitmapProjectorSchema },
    { loadConfig },
    { startBitmapProjector },
    { startWith, ROLE_CLOSE_TIMEOUT_MS },
  ] = await Promise.all([
    import('../../adapters/logger.ts'),
    import('../../adapters/metrics.ts'),
    import('../../adapters/metrics-server.ts'),
    import('../../config/bitmap-projector.ts'),
    import('../../config/load.ts'),
    import('./start.ts'),
    import('../lifecycle.ts'),
  ]);
  const config = loadConfig(bitmapProjectorSchema);
  const logger = createLogger('bitmap-projector', config.LOG_LEVEL);
  setMetricsRole('bitmap-projector');
  return startWith(
    logger,
    async (life) => {
      life.defer({ name: 'bitmap projector', close: await startBitmapProjector(config, logger) });
      await life.open(
        'metrics listener',
        () => startRoleMetrics(config, logger),
        (stop) => stop(),
      );
    },
    { closeTimeoutMs: ROLE_CLOSE_TIMEOUT_MS },
  );
});
