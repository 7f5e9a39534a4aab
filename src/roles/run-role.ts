/**
 * Shared shell of every process entry point: refuses to run from a half-built dist/, turns any start-up
 * failure into one line and the exit code of the one policy (src/exit-codes.ts: 2 configuration, 3
 * unreachable service, 1 otherwise; never a stack trace), and runs the role's shutdown on SIGTERM/SIGINT.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeFailure, ExitCode, reportFailure } from '../exit-codes.ts';

export type Shutdown = () => Promise<void>;

/**
 * From dist/ (a compiled `.js`), the build must be whole: dist/build.json is written last by `npm run build`.
 * Returns the sentence to print, or null. From the TypeScript source (tsx, tests) there is nothing to check.
 */
export function incompleteBuild(moduleUrl: string = import.meta.url): string | null {
  if (!moduleUrl.endsWith('.js')) return null;
  const stamp = fileURLToPath(new URL('../../build.json', moduleUrl));
  return existsSync(stamp)
    ? null
    : `dist/ is half-built (${stamp}, written last by \`npm run build\`, is missing); run \`npm run build\` and let it finish`;
}

export async function runRole(role: string, start: () => Promise<Shutdown>): Promise<void> {
  const incomplete = incompleteBuild();
  if (incomplete) {
    process.stderr.write(`rplace ${role}: ${incomplete}\n`);
    process.exit(ExitCode.failure);
  }
  let shutdown: Shutdown;
  try {
    shutdown = await start();
  } catch (error) {
    process.exit(reportFailure(`rplace ${role}`, error, { starting: true }));
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => {
      process.stderr.write(`rplace ${role}: shutdown after ${signal} took over 10 s, exiting\n`);
      process.exit(ExitCode.failure);
    }, 10_000);
    force.unref();
    shutdown().then(
      () => process.exit(ExitCode.ok),
      (error: unknown) => {
        process.stderr.write(`rplace ${role}: shutdown failed: ${describeFailure(error)}\n`);
        process.exit(ExitCode.failure);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
