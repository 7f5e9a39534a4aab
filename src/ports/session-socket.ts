/**
 * One client's WebSocket as the edge session (src/app/edge/edge-session.ts) drives it: uWebSockets.js in
 * production (src/adapters/uws/edge-server.ts), a recording fake in the unit tests. Every method is
 * synchronous and is only called while the socket is open (the session stops at `closed`).
 */
export interface SessionSocket {
  /** Sends one text frame (a JSON control message). */
  sendText(text: string): void;
  /** Sends one binary frame; uWS's result: 1 sent, 0 buffered, 2 dropped (past `maxBackpressure`). */
  sendBinary(frame: Uint8Array): number;
  /** Sends a close frame with `code` and `reason`; the transport reports the close later. */
  end(code: number, reason: string): void;
  /** Starts receiving the live `pixels` frames every subscribed socket gets (one encoding per batch). */
  subscribe(): void;
  /** Stops receiving the live frames (while a whole canvas is on its way). */
  unsubscribe(): void;
  /** Starts receiving the `tilePixels` frames of one viewport tile (index `ty · columns + tx`). */
  subscribeTile(tile: number): void;
  /** Stops receiving one tile's frames (it left the view). */
  unsubscribeTile(tile: number): void;
  /** Bytes the transport holds for this socket, not yet taken by the kernel. */
  bufferedAmount(): number;
  /** Runs `write` with the socket's writes batched (uWS `cork`); needed for writes from async callbacks. */
  cork(write: () => void): void;
}
