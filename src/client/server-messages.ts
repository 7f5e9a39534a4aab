/**
 * Reading the server's JSON control messages: parsed and VALIDATED against the schemas of proto/messages.ts,
 * never cast. Pure, so every outcome is unit-tested (test/unit/client-server-messages.test.ts).
 *
 * - a known type that matches its schema → `message` (extra fields a newer edge adds are dropped);
 * - a type this client does not know → `unknown`: ignored, as the protocol allows edges to add types;
 * - a `welcome` for another protocol version → `incompatible` (the client stops rather than guess);
 * - anything else (not JSON, not an object, too long, a known type that breaks its schema) → `invalid`, with a
 *   `ServerMessageError` saying what was wrong. The client reports it (`onProtocolError`) and drops the
 *   message; it never throws out of the socket's message handler.
 */
import type { ServerControlMessage } from '../../proto/messages.ts';
import { describeIssues, SERVER_MESSAGE_TYPES, ServerControlMessageSchema } from '../../proto/server-messages.ts';
import { PROTOCOL_VERSION } from '../../proto/version.ts';

/** Longest control message the client parses (a welcome with a 256-colour palette is ~20 KB). */
export const MAX_SERVER_MESSAGE_CHARS = 64 * 1024;
/** How much of a bad message an error keeps, for the log. */
const EXCERPT_CHARS = 200;

/** The server sent a control message this client cannot accept. `excerpt` is its start, for the log. */
export class ServerMessageError extends Error {
  override readonly name = 'ServerMessageError';
  readonly excerpt: string;
  constructor(message: string, text: string, options?: ErrorOptions) {
    super(message, options);
    this.excerpt = text.slice(0, EXCERPT_CHARS);
  }
}

export type ParsedServerMessage =
  | { readonly kind: 'message'; readonly message: ServerControlMessage }
  | { readonly kind: 'unknown'; readonly type: string }
  | { readonly kind: 'incompatible'; readonly protocol: number }
  | { readonly kind: 'invalid'; readonly error: ServerMessageError };

const invalid = (message: string, text: string, cause?: unknown): ParsedServerMessage => ({
  kind: 'invalid',
  error: new ServerMessageError(message, text, cause === undefined ? undefined : { cause }),
});

export function parseServerMessage(text: string): ParsedServerMessage {
  if (text.length > MAX_SERVER_MESSAGE_CHARS)
    return invalid(`server message of ${text.length} characters (at most ${MAX_SERVER_MESSAGE_CHARS})`, text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return invalid('server message is not JSON', text, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid('server message is not a JSON object', text);
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return invalid('server message has no string "type"', text);
  if (!SERVER_MESSAGE_TYPES.includes(type)) return { kind: 'unknown', type: type.slice(0, 64) };
  const protocol = (value as { protocol?: unknown }).protocol;
  if (type === 'welcome' && typeof protocol === 'number' && protocol !== PROTOCOL_VERSION)
    return { kind: 'incompatible', protocol };
  const parsed = ServerControlMessageSchema.safeParse(value);
  if (!parsed.success)
    return invalid(`invalid "${type}" message from the server: ${describeIssues(parsed.error)}`, text, parsed.error);
  return { kind: 'message', message: parsed.data };
}
