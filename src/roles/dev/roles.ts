/**
 * Every role of the product in one process, for `npm start`. Each role parses the same environment with
 * its own schema (so every variable in README.md applies), starts through its own composable
 * `start<Role>`, and is stopped in reverse order: the edge first (no new placements), then the projectors.
 */
import type { Logger } from '../../adapters/logger.ts';
import { bitmapProjectorSchema } from '../../config/bitmap-projector.ts';
import { edgeSchema } from '../../config/edge.ts';
import { historySchema } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { startBitmapProjector } from '../bitmap-projector/start.ts';
import { startEdgeWithHistory } from '../edge/with-history.ts';
import { startHistory } from '../history/start.ts';
import type { Shutdown } from '../run-role.ts';

export interface RunningRoles {
  readonly url: string;
  readonly names: readonly string[];
  shutdown(): Promise<void>;
}

export async function startAllRoles(env: Record<string, string | undefined>, logger: Logger): Promise<RunningRoles> {
  const running: { name: string; stop: Shutdown }[] = [];
  const shutdown = async () => {
    const errors: unknown[] = [];
    for (const { name, stop } of running.reverse()) {
      try {
        await stop();
      } catch (error) {
        errors.push(error);
        logger.error({ err: error, role: name }, 'role shutdown failed');
      }
    }
    running.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} role(s) failed to shut down`);
  };
  // Parse every config first: a bad variable is reported before anything starts.
  const bitmapConfig = loadConfig(bitmapProjectorSchema, env);
  const historyConfig = loadConfig(historySchema, env);
  const edgeConfig = loadConfig(edgeSchema, env);
  let port = edgeConfig.PORT;
  try {
    // The projectors first, so the edge finds a current bitmap to load instead of replaying the stream.
    running.push({ name: 'bitmap-projector', stop: await startBitmapProjector(bitmapConfig, logger) });
    // The history projector and snapshotter (it runs the Postgres migrations).
    running.push({ name: 'history', stop: await startHistory(historyConfig, logger) });
    // The edge with the history API on its port, as every production edge runs.
    running.push({
      name: 'edge',
      stop: await startEdgeWithHistory(edgeConfig, historyConfig, logger, {
        onListening: (bound) => {
          port = bound;
        },
      }),
    });
  } catch (error) {
    await shutdown().catch(() => undefined);
    throw error;
  }
  return { url: `http://localhost:${port}`, names: running.map((r) => r.name), shutdown };
}
