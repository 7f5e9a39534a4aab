/**
 * WebSocket close codes an edge uses, in one place (documented in `proto/PROTOCOL.md`). A client
 * reconnects (with back-off, resuming from its last sequence) after every code except `UnsupportedVersion`.
 */
export const CloseCode = {
  /** The edge is shutting down (deploy, scale-in): reconnect elsewhere. */
  GoingAway: 1001,
  /** A message exceeded `MAX_CLIENT_MESSAGE_BYTES` (the edge answers `too_large` first; past 16 KiB uWS drops the socket, 1006). */
  MessageTooBig: 1009,
  /** Too many malformed messages, or more messages a second than the edge allows: the client is broken or hostile. */
  PolicyViolation: 1008,
  /** Too many whole-canvas sends to this socket or address (resumes, reconnects): reconnect after the back-off. */
  TryAgainLater: 1013,
  /** The client speaks a protocol version this edge does not serve; do not reconnect blindly. */
  UnsupportedVersion: 4001,
  /**
   * Reserved for "too slow". Today uWS (`closeOnBackpressureLimit`) shuts such a socket down itself, so the
   * client observes 1006; either way it reconnects with `since` and resumes.
   */
  TooSlow: 4002,
  /** The edge is not ready (still loading the canvas, or lost its feed); reconnect later. */
  NotReady: 4003,
  /** The session this socket authenticated with ended (logout, expiry): reconnect (as a guest, or with the new session). */
  SessionEnded: 4004,
  /** The account was banned: the socket is closed; it may reconnect to watch, placements are refused with `banned`. */
  Banned: 4005,
  /**
   * The canvas grew while this socket showed a viewport (`view`): the tile grid changed, so the socket is
   * closed; reconnect at once with `since` (a whole canvas of the new size comes back), then send `view` again.
   */
  CanvasResized: 4006,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
