/**
 * The edge as deployed: the edge role with the history API (point-in-time canvas, pixel history,
 * timelapses) mounted on its HTTP port, so every deployment shape serves what `npm start` serves on one
 * origin. Why on every edge rather than a role of its own: the edge already serves HTTP behind the load
 * balancer, the history reads are stateless Postgres reads that scale with the edges, and the browser's
 * history mode then needs no second origin or route. HISTORY_API=0 leaves it out (an edge without Postgres).
 */
import type { Logger } from 'pino';
import type { EdgeConfig } from '../../config/edge.ts';
import type { HistoryConfig } from '../../config/history.ts';
import { startHistoryApi } from '../history/api.ts';
import type { Shutdown } from '../run-role.ts';
import { startEdge, type EdgeOptions } from './start.ts';

export async function startEdgeWithHistory(
  edge: EdgeConfig,
  history: HistoryConfig,
  logger: Logger,
  options: EdgeOptions = {},
): Promise<Shutdown> {
  const api = edge.HISTORY_API === '1' ? await startHistoryApi(history, logger) : null;
  try {
    const stopEdge = await startEdge(edge, logger, {
      ...options,
      routes: [...(options.routes ?? []), ...(api?.routes ?? [])],
      ...(api ? { snapshots: api.snapshots } : {}),
    });
    return async () => {
      try {
        await stopEdge(); // no new requests first
      } finally {
        await api?.close();
      }
    };
  } catch (error) {
    await api?.close().catch(() => undefined);
    throw error;
  }
}
