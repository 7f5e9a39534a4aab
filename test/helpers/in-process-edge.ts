/**
 * The edge role started inside the test process (no child): on an ephemeral port of 127.0.0.1, for one test
 * canvas, silent unless `EDGE_TEST_LOG` names a level. For tests that also reach into the edge's stores.
 */
import { createLogger } from '../../src/adapters/logger.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Names } from '../../src/domain/names.ts';
import { startEdge } from '../../src/roles/edge/start.ts';
import type { Shutdown } from '../../src/roles/run-role.ts';
import { testEnv } from './isolation.ts';

export interface InProcessEdge {
  readonly stop: Shutdown;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly host: string;
}

/** `env` goes on top of `testEnv(names)`; it must hold what the edge needs besides, e.g. SESSION_SECRET. */
export async function startInProcessEdge(names: Names, env: Record<string, string>): Promise<InProcessEdge> {
  const config = loadConfig(edgeSchema, testEnv(names, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env }));
  let port = 0;
  const stop = await startEdge(config, createLogger('edge', process.env['EDGE_TEST_LOG'] ?? 'silent'), {
    onListening: (p) => (port = p),
  });
  return { stop, port, host: `127.0.0.1:${port}` };
}
