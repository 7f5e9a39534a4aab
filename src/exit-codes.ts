/**
 * The one exit-code policy of every rplace process, roles and CLI commands alike, and the one line they print
 * for a failure (never a stack trace):
 *
 *   0  done
 *   1  anything else (the line says what failed)
 *   2  usage: a bad argument, a bad configuration variable, a refused confirmation
 *   3  a service (NATS, Redis, Postgres) could not be reached
 *
 * Also named here: a half-built dist/ and missing dependencies (module not found), both 1, each with what
 * to run.
 */
import { ServiceUnreachable } from './ports/errors.ts';
import { ConfigError } from './ports/errors.ts';

export const ExitCode = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A command used wrongly (arguments, options, a refused confirmation): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Socket-level codes that mean "nothing answered there", wherever in the cause chain they appear. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'CONNECTION_REFUSED',
]);

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (e instanceof AggregateError) chain.push(...e.errors);
  }
  return chain;
}

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof ConfigError || error instanceof UsageError) return ExitCode.usage;
  const chain = causes(error);
  if (
    chain.some((e) => e instanceof ServiceUnreachable || UNREACHABLE_CODES.has(String((e as { code?: unknown })?.code)))
  )
    return ExitCode.unreachable;
  return ExitCode.failure;
}

/** Compiled code runs from dist/ (`.js`); the source runs through tsx (`.ts`). */
const compiled = import.meta.url.endsWith('.js');

/** A module that is not there: a package not installed, or a file of a half-built dist/. */
function missingModule(error: unknown): string | null {
  const code = (error as { code?: unknown })?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return null;
  const first = (error as Error).message.split('\n')[0] ?? '';
  if (/Cannot find package/.test(first)) return `a dependency is not installed (${first}); run \`npm ci\``;
  return compiled ? `dist/ is half-built (${first}); run \`npm run build\` and let it finish` : null;
}

/** The one line printed for a failure: the message (a ConfigError keeps its one line per variable). */
export function describeFailure(error: unknown): string {
  const missing = missingModule(error);
  if (missing) return missing;
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+$/, '') || (error instanceof Error ? error.name : 'failed');
}

/**
 * The one failure wrapper of every process: writes `<prefix>: <the one line>` to stderr and returns the exit
 * code of the policy above. A role's start-up failure that is not usage or unreachable says so
 * (`failed to start: …`); the CLI commands (src/cli/action.ts) and the roles (src/roles/run-role.ts) both
 * end here, so a failure reads and exits the same whichever printed it.
 */
export function reportFailure(prefix: string, error: unknown, options: { readonly starting?: boolean } = {}): ExitCode {
  const code = exitCodeFor(error);
  const what = options.starting && code === ExitCode.failure ? 'failed to start: ' : '';
  // A ConfigError spans several lines (one per wrong variable); keep them, they are the point.
  process.stderr.write(`${prefix}: ${what}${describeFailure(error)}\n`);
  return code;
}
