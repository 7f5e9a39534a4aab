/** Runs the operator CLI (`src/cli/main.ts`) as a child process, as an operator would. */
import { execFile } from 'node:child_process';
import type { Names } from '../../src/domain/names.ts';
import { testEnv } from './isolation.ts';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A runner with `env` as the base environment; each call may add variables. */
export function rplaceCli(
  env: NodeJS.ProcessEnv,
  defaults: Record<string, string> = {},
): (args: string[], extraEnv?: Record<string, string>) => Promise<CliRun> {
  return (args, extraEnv = defaults) =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', ...args],
        { env: { ...env, ...extraEnv }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
        },
      );
    });
}

/** A runner against one test canvas (`testEnv` of `names`, this size, logs silent). */
export function canvasCli(
  names: Names,
  size: { readonly width: number; readonly height: number },
  defaults: Record<string, string> = {},
): ReturnType<typeof rplaceCli> {
  const env = {
    ...process.env,
    ...testEnv(names, { CANVAS_WIDTH: String(size.width), CANVAS_HEIGHT: String(size.height), LOG_LEVEL: 'silent' }),
  };
  return rplaceCli(env, defaults);
}
