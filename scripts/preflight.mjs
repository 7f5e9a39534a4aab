#!/usr/bin/env node
/**
 * Runs before `npm start` and `npm test` (see package.json), so that either works as the very first command
 * on a fresh clone. Plain JavaScript with no dependencies: nothing is installed yet when it runs.
 *
 * 1. The runtime: a Node version `engines` admits, and a C library one of the pinned uWebSockets.js builds
 *    loads on (src/adapters/uws/native-builds.json; the loader, src/adapters/uws/load.ts, applies the same
 *    table at run time and is what actually loads the binary).
 * 2. The dependencies: `npm ci` when node_modules is missing or differs from package-lock.json (npm's own
 *    record of what it installed, node_modules/.package-lock.json, against the lockfile).
 *
 * A failure prints one sentence naming what to install and exits 1; never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const readJson = (path) => JSON.parse(readFileSync(join(root, path), 'utf8'));
const fail = (sentence) => {
  process.stderr.write(`rplace: ${sentence}\n`);
  process.exit(1);
};

// 1a. Node: each `^X.Y.Z` alternative of engines.node is a major line with a floor.
const { engines } = readJson('package.json');
const [major, minor] = process.versions.node.split('.').map(Number);
const lines = engines.node.split('||').map((range) => range.trim().replace(/^\^/, '').split('.').map(Number));
if (!lines.some(([m, n]) => major === m && minor >= n)) {
  fail(
    `Node ${process.version} is not supported: install Node ${lines.map(([m, n]) => (n ? `${m}.${n}+` : `${m}`)).join(', ')} (the LTS lines 20, 22 and 24, or 25; .nvmrc says ${readFileSync(join(root, '.nvmrc'), 'utf8').trim()})`,
  );
}

// 1b. The C library the native WebSocket server needs (glibc, versioned per build).
const abi = process.versions.modules;
const glibc = process.platform === 'linux' ? process.report?.getReport()?.header?.glibcVersionRuntime : undefined;
const atLeast = (have, want) => {
  const [a, b] = have.split('.').map(Number);
  const [c, d] = want.split('.').map(Number);
  return a > c || (a === c && b >= d);
};
const builds = readJson('src/adapters/uws/native-builds.json').packages;
const fits = builds.filter(
  (b) =>
    b.nodeByAbi[abi] !== undefined &&
    b.platforms.includes(`${process.platform}-${process.arch}`) &&
    (process.platform !== 'linux' || (glibc !== undefined && atLeast(glibc, b.glibc))),
);
if (fits.length === 0) {
  const want = builds
    .filter((b) => b.nodeByAbi[abi] !== undefined)
    .map((b) => b.glibc)
    .sort()[0];
  const here =
    process.platform !== 'linux'
      ? `${process.platform}/${process.arch}`
      : glibc
        ? `glibc ${glibc}`
        : 'a C library other than glibc (musl?)';
  fail(
    want
      ? `Node ${process.version} needs glibc ≥ ${want} for uWebSockets.js and this machine has ${here}: use Node 20 here, or a distribution with glibc ≥ ${want} (Debian 13, Ubuntu 24.04, RHEL 10)`
      : `no uWebSockets.js build runs Node ${process.version} (ABI ${abi}) on ${here}: use Node 20, 22, 24 or 25 on linux x64/arm64 with glibc (Node 20: ≥ 2.27; 22+: ≥ 2.38), macOS or Windows x64`,
  );
}

// 2. Dependencies as the lockfile says.
function staleness() {
  if (!existsSync(join(root, 'node_modules'))) return 'node_modules is missing';
  if (!existsSync(join(root, 'node_modules/.package-lock.json'))) return 'node_modules was not installed by npm ci';
  const wanted = readJson('package-lock.json').packages;
  const installed = readJson('node_modules/.package-lock.json').packages;
  for (const [path, entry] of Object.entries(wanted)) {
    if (path === '' || entry.optional) continue; // optional: platform packages npm skips here
    if (installed[path]?.version !== entry.version)
      return `${path.replace(/^.*node_modules\//, '')} is ${installed[path]?.version ?? 'missing'}, package-lock.json wants ${entry.version}`;
  }
  return null;
}
const stale = staleness();
if (stale) {
  process.stderr.write(`rplace: ${stale}: running npm ci\n`);
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const result = spawnSync(npm[0], [...npm[1], 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0)
    fail(
      `npm ci failed (${result.error?.message ?? `exit ${result.status}`}); fix what it printed above and run the command again`,
    );
}
