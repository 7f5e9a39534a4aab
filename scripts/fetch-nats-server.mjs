#!/usr/bin/env node
/**
 * The nats-server the fault suite and `npm run topology` (deploy/local/nats-server.ts) run: 2.10.27 from
 * Debian 13 (trixie), pinned by SHA-256, cached in .cache/nats-server/. Why not the machine's own: Debian 12 ships 2.9.10, which loses acknowledged
 * writes when a partitioned stream leader heals (docs/RELIABILITY.md, "Partitions") and drops expired pull
 * requests without a 408 (fixed upstream after 2.9.15); what we deploy is the same 2.10.27 (deploy/compose.yaml,
 * deploy/k8s/nats.yaml; test/unit/deploy-manifests.test.ts checks they match VERSION). The binary is a Go program needing glibc ≥ 2.34, so it runs on Debian 12 as it is.
 *
 *   node scripts/fetch-nats-server.mjs    prints the binary's path (downloads it once)
 *
 * Exits 1 with one line when it cannot (no network, a different file, no dpkg-deb).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '2.10.27';
const URL_ = 'https://deb.debian.org/debian/pool/main/n/nats-server/nats-server_2.10.27-1+b2_amd64.deb';
const SHA256 = '6d913ac987b78734c08537c2adeb1526cf735f216173a9170d94b185fcfe6f8a';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, '.cache', 'nats-server', VERSION);
const binary = join(dir, 'nats-server');

function fail(message) {
  process.stderr.write(`fetch-nats-server: ${message}\n`);
  process.exit(1);
}

if (!existsSync(binary)) {
  if (process.arch !== 'x64' || process.platform !== 'linux')
    fail(`only linux x64 is pinned, this is ${process.platform} ${process.arch}`);
  let response;
  try {
    response = await fetch(URL_);
  } catch (error) {
    fail(`cannot download ${URL_}: ${error.cause?.message ?? error.message}`);
  }
  if (!response.ok) fail(`${URL_} answered ${response.status}`);
  const deb = Buffer.from(await response.arrayBuffer());
  const digest = createHash('sha256').update(deb).digest('hex');
  if (digest !== SHA256) fail(`${URL_} has SHA-256 ${digest}, expected ${SHA256}`);
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'nats-server.deb'), deb);
  try {
    execFileSync('dpkg-deb', ['-x', join(work, 'nats-server.deb'), join(work, 'root')], { stdio: 'pipe' });
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    fail(`dpkg-deb could not unpack it: ${error.message.split('\n')[0]}`);
  }
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(join(work, 'root', 'usr', 'sbin', 'nats-server'), join(work, 'nats-server'));
  rmSync(join(work, 'root'), { recursive: true, force: true });
  rmSync(join(work, 'nats-server.deb'));
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
}
const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
if (!version.includes(`v${VERSION}`)) fail(`${binary} says "${version}", expected v${VERSION}`);
process.stdout.write(`${binary}\n`);
