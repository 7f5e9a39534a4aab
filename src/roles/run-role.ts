/**
 * Shared shell of every process entry point: turns a bad configuration or an unreachable service into
 * one clear line and a non-zero exit (never a stack trace), and runs the role's shutdown on SIGTERM/SIGINT.
 */
import { ConfigError } from '../config/load.ts';
import { ServiceUnreachable } from '../app/errors.ts';

export type Shutdown = () => Promise<void>;

export async function runRole(role: string, start: () => Promise<Shutdown>): Promise<void> {
  let shutdown: Shutdown;
  try {
    shutdown = await start();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ServiceUnreachable) {
      process.stderr.write(`rplace ${role}: ${error.message}\n`);
      process.exit(error instanceof ConfigError ? 2 : 3);
    }
    process.stderr.write(`rplace ${role}: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => {
      process.stderr.write(`rplace ${role}: shutdown after ${signal} took over 10 s, exiting\n`);
      process.exit(1);
    }, 10_000);
    force.unref();
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`rplace ${role}: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
