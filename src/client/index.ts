/**
 * The rplace client's public API (browsers and Node): import from here, not from the files behind it.
 * `RplaceClient` is the stateful WebSocket client (timers, reconnect back-off, gap detection); the protocol it
 * speaks (schemas, frame layouts, codecs) is proto/.
 */
export { RplaceClient, type ClientOptions, type ClientStatus, type PlaceResult } from './rplace-client.ts';
export { reconnectDelay, type Backoff } from './backoff.ts';
export {
  ServerMessageError,
  parseServerMessage,
  MAX_SERVER_MESSAGE_CHARS,
  type ParsedServerMessage,
} from './server-messages.ts';
export type { FetchLike, WebSocketConstructor, WebSocketLike } from './transport.ts';
