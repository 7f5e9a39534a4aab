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
  /** The account is banned from placing (the connection is closed with this code). */
  banned: 'banned',
  /** A risk check tripped: the client must pass a challenge (captcha / proof-of-work) before placing again. */
  challenge_required: 'challenge_required',
  /** Login failed: unknown username or wrong password (deliberately not saying which). */
  invalid_credentials: 'invalid_credentials',
  /** Registration failed: the username is already in use. */
  username_taken: 'username_taken',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
