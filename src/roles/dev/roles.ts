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
import { ROLE_CLOSE_TIMEOUT_MS, startWith } from '../lifecycle.ts';
import type { Shutdown } from '../run-role.ts';

export interface RunningRoles {
  readonly url: string;
  readonly names: readonly string[];
  shutdown(): Promise<void>;
}

export async function startAllRoles(env: Record<string, string | undefined>, logger: Logger): Promise<RunningRoles> {
  // Parse every config first: a bad variable is reported before anything starts.
  const bitmapConfig = loadConfig(bitmapProjectorSchema, env);
  const historyConfig = loadConfig(historySchema, env);
  const edgeConfig = loadConfig(edgeSchema, env);
  let port = edgeConfig.PORT;
  const names: string[] = [];
  // Each role's own shutdown bounds its steps; the outer bound is a role's whole budget.
  const shutdown = await startWith(
    logger,
    async (life) => {
      const role = (name: string, stop: Shutdown) => {
        names.push(name);
        life.defer({ name, close: stop });
      };
      // The projectors first, so the edge finds a current bitmap to load instead of replaying the stream.
      role('bitmap-projector', await startBitmapProjector(bitmapConfig, logger));
      // The history projector and snapshotter (it runs the Postgres migrations).
      role('history', await startHistory(historyConfig, logger));
      // The edge with the history API on its port, as every production edge runs; stopped first.
      role(
        'edge',
        await startEdgeWithHistory(edgeConfig, historyConfig, logger, { onListening: (bound) => (port = bound) }),
      );
    },
    { closeTimeoutMs: ROLE_CLOSE_TIMEOUT_MS },
  );
  return { url: `http://localhost:${port}`, names, shutdown };
}
