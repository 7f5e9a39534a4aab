/**
 * What the client needs of its environment: a WebSocket and, optionally, `fetch`. The browser's own satisfy
 * these; in Node, `ws` (wrapped) and the global `fetch` do.
 */

/**
 * An event handler property. Declared through a method so its parameter is compared bivariantly: the
 * browser's `WebSocket` (whose handlers take a `MessageEvent`, a `CloseEvent` …) and `ws`'s then satisfy
 * `WebSocketLike` as they are, without a cast, while the client still only reads the fields named here.
 */
type Handler<E> = { bivariant(event: E): void }['bivariant'] | null;

/** The subset of the WHATWG WebSocket this client uses (`ws` in Node implements it too). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface FetchResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}
export type FetchLike = (
  url: string,
  init?: { credentials?: 'include' | 'same-origin' | 'omit' },
) => Promise<FetchResponseLike>;
