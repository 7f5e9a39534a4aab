/**
 * Which nats-server the local topology runs: NATS_SERVER_BIN when set, else the pinned 2.10.27 that
 * scripts/fetch-nats-server.mjs downloads once (SHA-256 checked) into .cache/nats-server/ — the server
 * the fault suite runs on and the release line deploy/ pins. Never the machine's own by default: Debian 12's
 * 2.9.10 loses acknowledged writes when a partitioned stream leader heals (docs/RELIABILITY.md, "Partitions").
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface NatsServerBinary {
  readonly path: string;
  /** What the binary itself says (`nats-server: v2.10.27`). */
  readonly version: string;
  /** Where the choice came from. */
  readonly source: 'NATS_SERVER_BIN' | 'pinned';
}

export class NatsServerUnavailable extends Error {}

function firstLine(error: unknown): string {
  const e = error as { stderr?: Buffer | string; message?: string };
  const text = `${e.stderr ?? ''}`.trim() || e.message || String(error);
  return (text.split('\n').find((l) => l.trim() !== '') ?? text).replace(/^fetch-nats-server: /, '');
}

export function resolveNatsServer(root: string, env: NodeJS.ProcessEnv = process.env): NatsServerBinary {
  const override = env.NATS_SERVER_BIN;
  let path: string;
  if (override) {
    path = override;
  } else {
    try {
      path = execFileSync(process.execPath, [join(root, 'scripts', 'fetch-nats-server.mjs')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    } catch (error) {
      throw new NatsServerUnavailable(
        `cannot get the pinned nats-server 2.10.27 (${firstLine(error)}); run \`node scripts/fetch-nats-server.mjs\` where deb.debian.org is reachable, or set NATS_SERVER_BIN to a nats-server 2.10 binary`,
      );
    }
  }
  let version: string;
  try {
    version = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    throw new NatsServerUnavailable(
      `NATS_SERVER_BIN=${path} does not run as a nats-server (${firstLine(error)}); unset it to use the pinned 2.10.27`,
    );
  }
  return { path, version, source: override ? 'NATS_SERVER_BIN' : 'pinned' };
}
