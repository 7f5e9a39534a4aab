/**
 * What the edge counts, as a port: the edge session and its routes report through it, and the Prometheus
 * adapter (src/adapters/uws/edge-metrics.ts) turns each call into the `rplace_*` series. Every method is
 * cheap and synchronous (a counter bump), and none is called per pixel.
 */
import type { ErrorCode } from '../../proto/error-codes.ts';

export interface EdgeMetrics {
  /** A per-client bound refused or closed something; `limit` names it (`ws_messages`, `ws_resyncs_per_ip`, `http_unread_responses`, …). */
  refused(limit: string): void;
  /** One frame handed to a socket (`pixels`, `canvas`, a viewport `tile` snapshot) or to the live topic (`pixels_topic`). */
  frameSent(kind: 'pixels' | 'canvas' | 'pixels_topic' | 'tile'): void;
  /** A frame that did not reach its socket: dropped past `maxBackpressure`, or the socket closed abnormally (1006). */
  frameDropped(reason: 'backpressure' | 'closed'): void;
  /** A client was sent a whole canvas because the ring no longer holds what it missed. */
  resync(reason: 'client_behind_ring'): void;
  /** One answered placement (accepted, duplicate, or refused with its code). */
  placementAnswered(
    outcome: { readonly ok: true; readonly duplicate: boolean } | { readonly ok: false; readonly code: ErrorCode },
  ): void;
  /** Open WebSockets on this edge. */
  connections(open: number): void;
  /** One live frame published to every subscribed socket, carrying `events` events. */
  published(events: number): void;
  /** Large HTTP responses written but not yet read, across every address. */
  pendingResponses(pending: number): void;
}
