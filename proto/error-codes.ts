/**
 * Every error code a client can receive, in one place. The WebSocket `error` message and HTTP error
 * bodies both carry `{ code, message }` with one of these codes; `proto/PROTOCOL.md` documents each.
 */
export const ErrorCode = {
  /** The user must wait; `remainingSeconds` says how long. */
  cooldown: 'cooldown',
  invalid_coordinates: 'invalid_coordinates',
  invalid_color: 'invalid_color',
  /** The message did not parse or did not match its schema. */
  bad_request: 'bad_request',
  /** The message exceeded the size limit. */
  too_large: 'too_large',
  /** The log could not take the placement (NATS down or slow); the cooldown was refunded, retry later. */
  unavailable: 'unavailable',
  /** The client's protocol version is not served by this edge. */
  unsupported_version: 'unsupported_version',
  /** Authentication is required for this action. */
  unauthorized: 'unauthorized',
  /** The user or origin is not allowed to do this. */
  forbidden: 'forbidden',
  /** Too many requests or connections from this client. */
  rate_limited: 'rate_limited',
  not_found: 'not_found',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
