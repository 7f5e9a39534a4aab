/** The edge's `EdgeMetrics` port on the process's Prometheus registry (src/adapters/metrics.ts). */
import type { EdgeMetrics } from '../../ports/edge-metrics.ts';
import { countPlacement, metrics } from '../metrics.ts';

export const prometheusEdgeMetrics: EdgeMetrics = {
  refused: (limit) => metrics.limitRefusals.inc({ limit }),
  frameSent: (kind) => metrics.framesSent.inc({ kind }),
  frameDropped: (reason) => metrics.framesDropped.inc({ reason }),
  resync: (reason) => metrics.resyncs.inc({ reason }),
  placementAnswered: countPlacement,
  connections: (open) => metrics.wsConnections.set(open),
  published: (events) => metrics.batchSize.observe({ stage: 'edge' }, events),
  pendingResponses: (pending) => metrics.httpPendingResponses.set(pending),
};
