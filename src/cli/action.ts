/**
 * Wraps every CLI command so that a failure prints ONE line, `rplace <command>: <reason>`, never a stack
 * trace, with the exit code of the one policy in src/exit-codes.ts (2 usage or configuration, 3 unreachable
 * service, 1 anything else).
 */
import { describeFailure, exitCodeFor } from '../exit-codes.ts';

export function cliAction<A extends unknown[]>(name: string, run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await run(...args);
    } catch (error) {
      // A ConfigError spans several lines (one per wrong variable); keep them, they are the point.
      process.stderr.write(`rplace ${name}: ${describeFailure(error)}\n`);
      process.exitCode = exitCodeFor(error);
    }
  };
}
