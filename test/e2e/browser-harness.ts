/**
 * What the browser tests and `npm run bench -- client` share: an up-to-date web build, the real role
 * processes (edge, bitmap projector) spawned as children on a free port with this run's canvas id,
 * headless Debian chromium through playwright-core, and reads of the canonical canvas.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The web client's test hooks, present on `/?debug` only (web/src/main.ts). */
export interface RplaceDebug {
  seq(): number;
  /** The canvas size the page shows (it follows a resize without a reload). */
  size(): { width: number; height: number };
  pixel(x: number, y: number): number;
  rendered(x: number, y: number): string;
  screenOf(x: number, y: number): { x: number; y: number };
  camera(): { x: number; y: number; zoom: number };
  placement(): { selected: { x: number; y: number } | null; cooldownMs: number; pending: boolean };
  canvasBase64(): string;
  /** History mode's slider: steps drawn, and the last one's sequence and time. */
  history(): { steps: number; seq: number; time: number };
  /** The drawn <canvas> as palette indices (255: not a palette colour), base64. */
  renderedIndicesBase64(): string;
  timings: { canvasAt: number; paintedAt: number; frames: number; drawAllMs: number; firstFlushMs: number };
  client: { status: string };
}

declare global {
  interface Window {
    rplaceDebug: RplaceDebug;
  }
}

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts');

function newestMtime(dir: string): number {
  let newest = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    if (!existsSync(current)) continue;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'vectors') stack.push(path);
      else if (entry.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/**
 * Runs `npm run build:web` when dist/web is missing or older than web/ or proto/ (the bundle includes
 * the protocol client). A directory lock keeps two test workers from building into dist/web at once.
 */
export async function ensureWebBuilt(): Promise<void> {
  const built = join(ROOT, 'dist/web/index.html');
  const fresh = () =>
    existsSync(built) &&
    statSync(built).mtimeMs >=
      // The bundle also holds src/client and src/domain (the protocol client and what it imports).
      Math.max(...['web', 'proto', 'src/client', 'src/domain'].map((dir) => newestMtime(join(ROOT, dir))));
  if (fresh()) return;
  const lock = join(ROOT, 'dist/.web-build.lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another worker builds; a lock older than two minutes is from a crashed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another web build');
      await new Promise((r) => setTimeout(r, 250));
      if (fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const result = spawnSync('npm', ['run', '--silent', 'build:web'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0)
      throw new Error(`npm run build:web failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export { freePort } from '../helpers/edge-process.ts';

export interface RoleProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Spawns `src/roles/<role>/main.ts` with tsx, its environment extended by `env`. */
export function startRole(role: string, env: Record<string, string>): RoleProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/roles', role, 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    name: role,
    child,
    output: () => log,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 2xx, or throws with the role's output. */
export async function waitForHttp(url: string, role: RoleProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (role.child.exitCode !== null)
      throw new Error(`${role.name} exited with ${role.child.exitCode}:\n${role.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms; ${role.name} output:\n${role.output()}`);
}

/**
 * Starts a role that serves HTTP (`edge`, or `dev` with everything in one process) on 127.0.0.1:`port`, and
 * waits until `readyPath` answers 2xx.
 */
export async function startServingRole(
  role: 'edge' | 'dev',
  env: Record<string, string>,
  port: number,
  readyPath = '/api/v1/canvas/info',
  timeoutMs = 30_000,
): Promise<RoleProcess> {
  const started = startRole(role, { ...env, PORT: String(port), HOST: '127.0.0.1' });
  try {
    await waitForHttp(`http://127.0.0.1:${port}${readyPath}`, started, timeoutMs);
  } catch (error) {
    await started.stop(); // the caller never gets it to stop
    throw error;
  }
  return started;
}

export function sessionSecret(): string {
  return randomBytes(32).toString('hex');
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see test/e2e/README.md)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
}

export interface CanonicalCanvas {
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  readonly bytes: Buffer;
}

/** `GET /api/v1/canvas`: the edge's canvas and the sequence it reflects. */
export async function canonicalCanvas(base: string): Promise<CanonicalCanvas> {
  const res = await fetch(`${base}/api/v1/canvas`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET /api/v1/canvas answered ${res.status}`);
  return {
    seq: Number(res.headers.get('x-rplace-seq')),
    width: Number(res.headers.get('x-canvas-width')),
    height: Number(res.headers.get('x-canvas-height')),
    bytes: Buffer.from(await res.arrayBuffer()),
  };
}

/** The page's own canvas bytes and sequence, through the `/?debug` hooks of the web client. */
export async function pageCanvas(page: Page): Promise<{ seq: number; bytes: Buffer }> {
  const { seq, b64 } = await page.evaluate(() => {
    const d = window.rplaceDebug;
    return { seq: d.seq(), b64: d.canvasBase64() };
  });
  return { seq, bytes: Buffer.from(b64, 'base64') };
}

/**
 * Waits until the page holds the same sequence as the edge's canvas, then returns both for a byte-for-byte
 * comparison. The canonical canvas is re-read while the page catches up (events may still be arriving).
 */
export async function settledCanvases(
  page: Page,
  base: string,
  timeoutMs = 10_000,
): Promise<{ page: Buffer; canonical: Buffer; seq: number }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const canonical = await canonicalCanvas(base);
    const mine = await pageCanvas(page);
    if (mine.seq === canonical.seq) return { page: mine.bytes, canonical: canonical.bytes, seq: mine.seq };
    last = `page at ${mine.seq}, edge at ${canonical.seq}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`page never reached the edge's sequence (${last})`);
}
