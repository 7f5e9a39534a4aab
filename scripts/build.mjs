#!/usr/bin/env node
/**
 * `npm run build`: the production build in dist/. tsc compiles the roles, the CLI and what they import
 * (tsconfig.build.json: dist/src/roles/<role>/main.js, dist/src/cli/main.js, …), vite bundles the web client
 * into dist/web, and dist/build.json is written LAST: a role started from dist/ refuses to run without it, so a
 * build that stopped half-way is named as such instead of failing on some missing module.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const dist = join(root, 'dist');
const started = Date.now();

function run(what, bin, args) {
  const result = spawnSync(process.execPath, [join(root, 'node_modules', bin), ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    process.stderr.write(
      `rplace build: ${what} failed (exit ${result.status ?? result.signal}); dist/ is incomplete\n`,
    );
    process.exit(1);
  }
}

// The stamp goes first, so an interrupted rebuild never leaves an old stamp over new, partial output.
rmSync(join(dist, 'build.json'), { force: true });
for (const dir of ['src', 'proto', 'streams', 'migrations']) rmSync(join(dist, dir), { recursive: true, force: true });
run('tsc -p tsconfig.build.json', 'typescript/bin/tsc', ['-p', 'tsconfig.build.json']);
run('vite build (the web client)', 'vite/bin/vite.js', [
  'build',
  '--config',
  'web/vite.config.ts',
  '--logLevel',
  'warn',
]);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(
  join(dist, 'build.json'),
  `${JSON.stringify({ version, builtAt: new Date().toISOString(), node: process.version }, null, 2)}\n`,
);
process.stdout.write(
  `rplace build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)} s (node dist/src/roles/<role>/main.js, node dist/src/cli/main.js)\n`,
);
