/**
 * Wraps a CLI command so that every failure prints ONE line, `rplace <command>: <reason>`, never a stack
 * trace, and sets the exit code: 2 for a bad configuration or usage, 3 for an unreachable service, 1 otherwise.
 */
import { ServiceUnreachable } from '../app/errors.ts';
import { ConfigError } from '../config/load.ts';

export function cliAction<A extends unknown[]>(name: string, run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await run(...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // A ConfigError spans several lines (one per wrong variable); keep them, they are the point.
      process.stderr.write(`rplace ${name}: ${message.replace(/\s+$/, '')}\n`);
      process.exitCode = error instanceof ConfigError || (error instanceof Error && error.name === 'CliUsageError') ? 2 : error instanceof ServiceUnreachable ? 3 : 1;
    }
  };
}
