/**
 * The baseline of `bench/fanout.ts`: a bare uWS server with the edge's socket limits that publishes the
 * same frames (same size, same window, timestamps encoded the same way) to the same clients, with no
 * stream, no canvas, no placements. On open it sends the empty "up to date at 0" frame.
 */
import { encodePixelsFrame, writePixelRecord } from '../proto/frames.ts';
import { loadUws } from '../src/adapters/uws/load.ts';

const uws = loadUws();
const windowMs = Number(process.env.WINDOW_MS ?? 50);
const rate = Number(process.env.RATE ?? 3333);
const port = Number(process.env.PORT ?? 0);
const MOD = 4_000_000;
const app = uws.App();
const hello = encodePixelsFrame(1, 0, new Uint8Array(0), 0);
app.ws('/ws', {
  maxPayloadLength: 512,
  idleTimeout: 120,
  maxBackpressure: 1024 * 1024,
  closeOnBackpressureLimit: 1, // on: load.ts types it as a number, and 1 is on whether the addon reads a boolean or an integer
  sendPingsAutomatically: true,
  compression: uws.DISABLED,
  open: (ws) => {
    ws.send(hello, true);
    ws.subscribe('pixels');
  },
});
let seq = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let carry = 0;
app.listen('127.0.0.1', port, (socket) => {
  if (!socket) process.exit(1);
  process.send?.({ cmd: 'listening', port: uws.us_socket_local_port(socket as never) });
});
process.on('disconnect', () => process.exit(0));
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'start') {
    let last = Date.now();
    // Frames on a fixed schedule (start + k × window), not `setInterval`, which reschedules from when it last
    // ran, so every late run (the loop busy writing the last frame to the sockets) pushed all later ones back:
    // one run at a 60 ms window sent 11 frames a second, not 16.6, and so bigger frames than the edge's it is
    // compared with.
    let due = last + windowMs;
    const tick = () => {
      const now = Date.now();
      due = Math.max(due + windowMs, now + 1);
      timer = setTimeout(tick, due - now);
      // The time since the last frame: the window, or more when the loop was late (busy writing the last one).
      const spanMs = now - last;
      carry += (spanMs * rate) / 1000;
      last = now;
      const count = Math.floor(carry);
      carry -= count;
      if (count === 0) return;
      // Spread the timestamps over that span, as placements arriving through it would be (spread over the
      // nominal window only, a late frame's records looked younger than they were).
      const records = new Uint8Array(count * 5);
      for (let i = 0; i < count; i++) {
        const code = (now - Math.floor(((count - 1 - i) * spanMs) / count)) % MOD;
        writePixelRecord(records, i, code % 2000, Math.floor(code / 2000), 1);
      }
      app.publish('pixels', encodePixelsFrame(seq + 1, seq + count, records, count), true, false);
      seq += count;
    };
    timer = setTimeout(tick, windowMs);
  } else if (message.cmd === 'stop') {
    if (timer) clearTimeout(timer);
    process.send?.({ cmd: 'stopped' });
  } else if (message.cmd === 'exit') {
    process.exit(0);
  }
});
