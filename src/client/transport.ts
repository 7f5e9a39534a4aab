/**
 * What the client needs of its environment: a WebSocket and, optionally, `fetch`. The browser's own satisfy
 * these; in Node, `ws` (wrapped) and the global `fetch` do.
 */

/** The subset of the WHATWG WebSocket this client uses (`ws` in Node implements it too). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
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
export type FetchLike = (url: string, init?: { credentials?: 'include' | 'same-origin' | 'omit' }) => Promise<FetchResponseLike>;
