/**
 * `rplace` — the operator CLI (`npx rplace <command>` through bin/rplace.mjs, or `npm run rplace -- <command>`).
 * Each command group lives in `src/cli/commands/<group>.ts` and registers itself here; every command's failure
 * goes through cliAction (src/cli/action.ts), and commander's own usage errors exit 2 as the policy says
 * (src/exit-codes.ts).
 */
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../exit-codes.ts';
import { registerActivity } from './commands/activity.ts';
import { registerExport } from './commands/export.ts';
import { registerHistory } from './commands/history.ts';
import { registerMod } from './commands/mod.ts';
import { registerModRoles } from './commands/mod-roles.ts';
import { registerBitmap } from './commands/bitmap.ts';
import { registerCanvas } from './commands/canvas.ts';
import { registerStatus } from './commands/status.ts';
import { registerStreams } from './commands/streams.ts';

// exitOverride before the commands are added: subcommands inherit it.
const program = new Command('rplace').description('operate an rplace canvas').showHelpAfterError().exitOverride();

const groups: ((program: Command) => void)[] = [
  registerHistory,
  registerExport,
  registerActivity,
  registerMod,
  registerModRoles,
  registerStreams,
  registerBitmap,
  registerCanvas,
  registerStatus,
];
for (const register of groups) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its message already (unknown command, missing argument, --help, --version).
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
}
