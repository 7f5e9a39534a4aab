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
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createSharedRead } from '../../app/shared-read.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import { namesFor } from '../../domain/names.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { openNats, ROLE_CLOSE_TIMEOUT_MS, startWith } from '../lifecycle.ts';
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
      // One NATS connection for every role (issue 13): the server then writes the edge's PubAcks and tail and
      // both projectors' deliveries to one socket, and this process reads them in one go instead of three.
      // Every role parses the same environment, so the same credentials; replies use the edge's inbox prefix.
      // Opened first, so it is drained last, after every role stopped.
      const canvas = namesFor(edgeConfig.CANVAS_ID);
      const nc = await openNats(
        life,
        edgeConfig.NATS_URL,
        `rplace-all-${canvas.canvasId}`,
        natsAuthOf(edgeConfig, natsInboxPrefix('edge', canvas)),
        logger,
      );
      // Both projections read the stream through one live read, each from its own stored position, instead
      // of a durable consumer each (src/app/shared-read.ts): nats-server delivers each event twice, not three
      // times, and tracks no durable's acknowledgements. Closed after the roles, before the connection.
      const projections = createSharedRead(
        createNatsEventStream(nc, canvas, {
          canvas: eventBoundsOf(canvasSpecOf(bitmapConfig)),
          reader: 'projections',
          logger,
        }),
        { onError: (error, what) => logger.warn({ err: error }, what) },
      );
      life.defer({ name: 'shared read', close: () => projections.close() });
      const shared = { nc, projections };
      // The projectors first, so the edge finds a current bitmap to load instead of replaying the stream.
      role('bitmap-projector', await startBitmapProjector(bitmapConfig, logger, shared));
      // The history projector and snapshotter (it runs the Postgres migrations).
      role('history', await startHistory(historyConfig, logger, shared));
      // The edge with the history API on its port, as every production edge runs; stopped first.
      role(
        'edge',
        await startEdgeWithHistory(edgeConfig, historyConfig, logger, { nc, onListening: (bound) => (port = bound) }),
      );
    },
    { closeTimeoutMs: ROLE_CLOSE_TIMEOUT_MS },
  );
  return { url: `http://localhost:${port}`, names, shutdown };
}
