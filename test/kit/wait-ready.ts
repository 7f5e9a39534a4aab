/**
 * Waiting for a child process (an edge, nginx, a compiled build) to answer over HTTP, on `vi.waitFor`.
 * A child that exits fails the wait at once instead of after the whole timeout, and either failure
 * carries the child's own output, which is what explains it. Inside a vitest test only.
 */
import type { ChildProcess } from 'node:child_process';
import { vi } from 'vitest';

export interface WaitReadyOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** What the child printed so far, for the error. */
  readonly output: () => string;
  readonly what: string;
}

/** Resolves once `url` answers 2xx; rejects when `child` exits first or after `timeoutMs`. */
export async function waitForHttpOk(url: string, child: ChildProcess, options: WaitReadyOptions): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const state = await vi
    .waitFor(
      async () => {
        if (exited()) return 'exited' as const;
        if (
          !(await fetch(url).then(
            (r) => r.ok,
            () => false,
          ))
        )
          throw new Error('not ready');
        return 'ready' as const;
      },
      { timeout: options.timeoutMs, interval: options.intervalMs ?? 100 },
    )
    .catch(() => 'timeout' as const);
  if (state === 'exited')
    throw new Error(`${options.what} exited with ${child.exitCode ?? child.signalCode}: ${options.output()}`);
  if (state === 'timeout')
    throw new Error(`${options.what} did not answer ${url} within ${options.timeoutMs} ms: ${options.output()}`);
}
