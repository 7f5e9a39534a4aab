/**
 * `rplace` — the operator CLI (`npm run rplace -- <command>`). Each command group lives in
 * `src/cli/commands/<group>.ts` and registers itself here.
 */
import { Command } from 'commander';
import { registerActivity } from './commands/activity.ts';
import { registerExport } from './commands/export.ts';
import { registerHistory } from './commands/history.ts';
import { registerMod } from './commands/mod.ts';
import { registerBitmap } from './commands/bitmap.ts';
import { registerStatus } from './commands/status.ts';
import { registerStreams } from './commands/streams.ts';

const program = new Command('rplace').description('operate an rplace canvas').showHelpAfterError();

const groups: ((program: Command) => void)[] = [registerHistory, registerExport, registerActivity, registerMod, registerStreams, registerBitmap, registerStatus];
for (const register of groups) register(program);

await program.parseAsync(process.argv);
