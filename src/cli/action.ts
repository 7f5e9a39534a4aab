/**
 * Wraps every CLI command so that a failure prints ONE line, `rplace <command>: <reason>`, never a stack
 * trace, with the exit code of the one policy in src/exit-codes.ts (2 usage or configuration, 3 unreachable
 * service, 1 anything else): the same `reportFailure` the roles' run-role.ts uses.
 */
import { pino, type Logger } from 'pino';
import { reportFailure } from '../exit-codes.ts';

export function cliAction<A extends unknown[]>(
  name: string,
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await run(...args);
    } catch (error) {
      process.exitCode = reportFailure(`rplace ${name}`, error);
    }
  };
}

/**
 * The logger a command hands to adapters and to its lifecycle (src/roles/lifecycle.ts): warnings and worse,
 * on stderr, so stdout stays the command's output (`--json`, `-o -`).
 */
export function cliLogger(): Logger {
  return pino({ level: 'warn' }, pino.destination(2));
}
