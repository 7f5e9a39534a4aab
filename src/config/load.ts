/**
 * The only place that reads `process.env`. Each role declares a zod schema; `loadConfig` parses the
 * environment with it and, on a bad value, throws a `ConfigError` whose message names every wrong
 * variable and why. Role entry points print that message and exit non-zero (see `runRole`).
 */
import { ConfigError } from '../ports/errors.ts';
import type { z } from 'zod';

export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const variable = issue.path.map(String).join('.') || '(environment)';
    const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
    return `  ${variable}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
