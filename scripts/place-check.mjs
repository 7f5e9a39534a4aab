#!/usr/bin/env node
/**
 * Smoke check of a running product, as a client would: through each edge URL, one real WebSocket placement
 * (answered `success` with its sequence), then the history API on the same edge: the pixel's history lists
 * that sequence, and the point-in-time snapshot answers raw and PNG.
 *
 *   node scripts/place-check.mjs URL [URL…] [-- COMMAND ARGS…]
 *
 * With a command (e.g. `-- npm start`) it starts it in its own process group, waits for the first URL's
 * /readyz, checks, then stops it with SIGINT and waits for it. Prints one line per URL; exits 1 on a failure.
 * Plain JavaScript on the `ws` package so it runs on any supported Node without a build (test:runtimes).
 */
import { spawn } from 'node:child_process';
import { placeOverWebSocket, sleep, until } from './smoke-client.mjs';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const urls = (dash === -1 ? args : args.slice(0, dash)).map((u) => u.replace(/\/+$/, ''));
const command = dash === -1 ? [] : args.slice(dash + 1);
if (urls.length === 0) {
  process.stderr.write('usage: node scripts/place-check.mjs URL [URL…] [-- COMMAND ARGS…]\n');
  process.exit(2);
}
/**
 * A guest's cooldown is shared by its address too (GUEST_COOLDOWN_PER_IP), so on loopback each URL's check
 * places from its own 127.0.0.x source address, as different players would; elsewhere the system picks it.
 */
function sourceAddress(url, index) {
  return /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+)(:|\/|$)/.test(url)
    ? { localAddress: `127.0.0.${10 + (index % 200)}` }
    : {};
}

function place(url, index, x, y, color) {
  // 127.0.0.1 rather than localhost, so the source address picked by sourceAddress() can reach it.
  return placeOverWebSocket(url.replace('//localhost', '//127.0.0.1'), {
    x,
    y,
    color,
    socket: sourceAddress(url, index),
  });
}

async function check(url, index) {
  const info = await (await fetch(`${url}/api/v1/canvas/info`)).json();
  const { width, height } = info;
  const x = Math.floor(Math.random() * width);
  const y = Math.floor(Math.random() * height);
  const color = 1 + Math.floor(Math.random() * 3);
  const t0 = Date.now();
  const placed = await place(url, index, x, y, color);
  const placeMs = Date.now() - t0;
  const t1 = Date.now();
  const seen = await until(`${url}/api/v1/history/pixel lists seq ${placed.seq}`, 30_000, async () => {
    const response = await fetch(`${url}/api/v1/history/pixel?x=${x}&y=${y}`);
    if (!response.ok) throw new Error(`pixel history answered ${response.status}`);
    const body = await response.json();
    return body.placements.some((p) => p.seq === placed.seq && p.color === color) ? true : undefined;
  });
  const historyMs = Date.now() - t1;
  const raw = await fetch(`${url}/api/v1/history/snapshot?time=${Date.now()}`);
  const rawBytes = (await raw.arrayBuffer()).byteLength;
  const png = await fetch(`${url}/api/v1/history/snapshot?time=${Date.now()}&format=png`);
  const pngBytes = new Uint8Array(await png.arrayBuffer());
  const isPng = pngBytes[0] === 0x89 && pngBytes[1] === 0x50 && pngBytes[2] === 0x4e && pngBytes[3] === 0x47;
  if (!seen || raw.status !== 200 || rawBytes !== width * height || png.status !== 200 || !isPng) {
    throw new Error(
      `history API: snapshot raw ${raw.status} ${rawBytes} bytes, png ${png.status} ${isPng ? 'PNG' : 'not PNG'}`,
    );
  }
  return `${url}: placed (${x},${y}) colour ${color} → seq ${placed.seq} in ${placeMs} ms; in /api/v1/history/pixel after ${historyMs} ms; snapshot raw ${rawBytes} B @seq ${raw.headers.get('x-rplace-seq')}, PNG ${pngBytes.length} B`;
}

let child;
let exited;
if (command.length > 0) {
  child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
}
let failed = false;
try {
  if (child) {
    const t0 = Date.now();
    await Promise.race([
      until(`${urls[0]}/readyz`, 240_000, async () => ((await fetch(`${urls[0]}/readyz`)).ok ? true : undefined)),
      exited.then((code) => Promise.reject(new Error(`${command.join(' ')} exited (${code}) before it was ready`))),
    ]);
    process.stdout.write(`[place-check] ${command.join(' ')} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  for (const [index, url] of urls.entries()) process.stdout.write(`[place-check] ${await check(url, index)}\n`);
} catch (error) {
  failed = true;
  process.stderr.write(`[place-check] FAILED: ${error.message}\n`);
} finally {
  if (child && child.exitCode === null) {
    process.kill(-child.pid, 'SIGINT');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout')]);
    if (code === 'timeout') process.kill(-child.pid, 'SIGKILL');
    process.stdout.write(`[place-check] ${command.join(' ')} stopped (${code})\n`);
  }
}
process.exit(failed ? 1 : 0);
