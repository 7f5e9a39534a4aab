/**
 * `rplace` — the operator CLI (`npm run rplace -- <command>`). Each command group lives in
 * `src/cli/commands/<group>.ts` and registers itself here.
 */
import { Command } from 'commander';
import { registerMod } from './commands/mod.ts';

const program = new Command('rplace').description('operate an rplace canvas').showHelpAfterError();

const groups: ((program: Command) => void)[] = [registerMod];
for (const register of groups) register(program);

await program.parseAsync(process.argv);
