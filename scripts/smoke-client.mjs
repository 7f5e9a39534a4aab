/**
 * What the smoke checks (scripts/place-check.mjs, scripts/mod-check.mjs) share: one WebSocket placement as a
 * client makes it, and polling an answer until it comes. Plain JavaScript on `ws`, so the checks run on any
 * supported Node without a build (test:runtimes).
 */
import WebSocket from 'ws';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls `attempt` every 250 ms until it returns something other than undefined; throws after `timeoutMs`. */
export async function until(what, timeoutMs, attempt) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: no answer in ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/**
 * Opens `url`'s /ws, places (x, y, color) after the welcome and resolves with the `success` answer (rejects
 * with the refusal's code). `socket` goes to `ws` as is: `headers` (cookie, origin), `localAddress`.
 */
export function placeOverWebSocket(target, { x, y, color, socket = {} }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${target.replace(/^http/, 'ws')}/ws?v=1`, { perMessageDeflate: false, ...socket });
    const requestId = `check${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no answer to the placement in 15 s'));
    }, 15_000);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(String(data));
      if (message.type === 'welcome') ws.send(JSON.stringify({ type: 'place', x, y, color, requestId }));
      else if (message.requestId === requestId) {
        clearTimeout(timer);
        ws.close();
        if (message.type === 'success') resolve(message);
        else reject(new Error(`placement answered ${message.code}: ${message.message}`));
      }
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
