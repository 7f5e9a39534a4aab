/**
 * (Re)builds the web client (`npm run build:web` → dist/web) when dist/web is missing or older than any
 * file under web/. The decision is pure (`needsWebBuild`); the scan and the build are small I/O wrappers.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time (ms) of any file under `dir`, skipping node_modules; null when empty or missing. */
export function newestMtime(dir: string): number | null {
  if (!existsSync(dir)) return null;
  let newest: number | null = null;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) newest = Math.max(newest ?? 0, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** Build when there are sources and the output is missing or older than the newest source. */
export function needsWebBuild(sourcesNewestMs: number | null, builtNewestMs: number | null): boolean {
  if (sourcesNewestMs === null) return false;
  return builtNewestMs === null || builtNewestMs < sourcesNewestMs;
}

/** Runs `npm run build:web`, its output going to our stderr. Resolves with the exit code. */
export function runWebBuild(cwd: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'build:web'], { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
