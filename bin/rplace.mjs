#!/usr/bin/env node
/**
 * The `rplace` command (package.json `bin`: `npx rplace status` in the checkout, `rplace …` where installed).
 *
 * Which code runs: the TypeScript source through tsx when it is there (a checkout with its dev dependencies:
 * what you edit is what runs, never a stale build), otherwise the compiled dist/src/cli/main.js (the image,
 * which carries dist/ and no source or tsx), after checking that dist/ is whole (dist/build.json is written
 * last by `npm run build`). Anything missing is one sentence and exit 1, never a stack trace.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const fail = (sentence) => {
  process.stderr.write(`rplace: ${sentence}\n`);
  process.exit(1);
};
const source = join(root, 'src/cli/main.ts');
let tsx = null;
if (existsSync(source)) tsx = await import('tsx/esm/api').catch(() => null);

if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else {
  const compiled = join(root, 'dist/src/cli/main.js');
  if (!existsSync(join(root, 'dist/build.json')) || !existsSync(compiled)) {
    fail(
      existsSync(source)
        ? 'neither tsx (a dev dependency: run `npm ci`) nor a whole build (dist/build.json: run `npm run build`) is here to run the CLI'
        : 'dist/ is missing or half-built (no dist/build.json, which `npm run build` writes last): run `npm run build`',
    );
  }
  try {
    await import(pathToFileURL(compiled).href);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND')
      fail(`dist/ is half-built (${error.message.split('\n')[0]}); run \`npm run build\``);
    throw error;
  }
}
