/** Entry point of the bitmap projector role: `tsx src/roles/bitmap-projector/main.ts`. */
import { createLogger } from '../../adapters/logger.ts';
import { bitmapProjectorSchema } from '../../config/bitmap-projector.ts';
import { loadConfig } from '../../config/load.ts';
import { runRole } from '../run-role.ts';
import { startBitmapProjector } from './start.ts';

await runRole('bitmap-projector', async () => {
  const config = loadConfig(bitmapProjectorSchema);
  return startBitmapProjector(config, createLogger('bitmap-projector', config.LOG_LEVEL));
});
