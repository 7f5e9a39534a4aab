/**
 * Starting a private service for `npm start` (and for tests that must kill one): a child process from the
 * binary on PATH, with its data under a directory we own, stopped by the returned `stop()`.
 *
 * Every failure is a `ServiceStartFailed` whose message says what to do (which apt package to install,
 * which log to read); callers print it as one line, never a stack trace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import { installHint, newestPostgresVersion, type ServiceKind } from './endpoints.ts';
import { waitForService } from './probe.ts';

export class ServiceStartFailed extends Error {
  override readonly name = 'ServiceStartFailed';
}

export interface LocalService {
  readonly kind: ServiceKind;
  readonly url: string;
  readonly logFile: string;
  /** Stops the service and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), for fault tests. */
  kill(): void;
}

/** Full path of an executable on PATH, or null. */
export function findExecutable(name: string, pathVariable = process.env.PATH ?? ''): string | null {
  for (const dir of pathVariable.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

/** Stops a child with SIGTERM, then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Kill children left behind if this process dies without running their `stop()` (an uncaught error). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function spawnService(
  kind: ServiceKind,
  url: string,
  command: string,
  args: readonly string[],
  logFile: string,
  startTimeoutMs: number,
): Promise<LocalService> {
  const log = openSync(logFile, 'a');
  // Own process group: a Ctrl-C in the terminal reaches us, and we stop the roles before their services.
  const child = spawn(command, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  running.add(child);
  child.once('exit', () => running.delete(child));
  const spawnError = new Promise<Error>((resolveError) => child.once('error', resolveError));
  const ready = await Promise.race([
    waitForService(kind, url, startTimeoutMs, () => child.exitCode === null && child.signalCode === null),
    spawnError.then((error) => ({ up: false as const, reason: error.message, occupied: false })),
  ]);
  if (!ready.up) {
    await stopChild(child, 1_000);
    throw new ServiceStartFailed(
      `could not start ${command} (${ready.reason}); its log ${logFile} ends with:\n${tail(logFile)}`,
    );
  }
  return {
    kind,
    url,
    logFile,
    stop: () => stopChild(child),
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

export interface LocalNatsOptions {
  readonly port: number;
  readonly storeDir: string;
  readonly logFile: string;
  /** Extra nats-server arguments (cluster routes, server name). */
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Address to listen on (default 127.0.0.1); the fault suite's partition tests use a network namespace's. */
  readonly host?: string;
  /** Command prefix the server runs under, e.g. `['ip', 'netns', 'exec', 'hf-n1']` (it execs: the pid stays the server's). */
  readonly prefix?: readonly string[];
  /** The nats-server binary (the clustered topology passes the pinned 2.10: deploy/local/nats-server.ts). */
  readonly binary?: string;
}

export async function startLocalNats(options: LocalNatsOptions): Promise<LocalService> {
  // NATS_SERVER_BIN picks a server other than the one on PATH (the fault suite pins 2.10: vitest.faults.config.ts).
  const binary = options.binary || process.env.NATS_SERVER_BIN || findExecutable('nats-server');
  if (!binary) throw new ServiceStartFailed(installHint('nats'));
  mkdirSync(options.storeDir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const args = [
    '-a',
    host,
    '-p',
    String(options.port),
    '-js',
    '-sd',
    resolve(options.storeDir),
    ...(options.extraArgs ?? []),
  ];
  const [command, ...prefixArgs] = [...(options.prefix ?? []), binary];
  return spawnService(
    'nats',
    `nats://${host}:${options.port}`,
    command!,
    [...prefixArgs, ...args],
    options.logFile,
    options.startTimeoutMs ?? 15_000,
  );
}

export interface LocalRedisOptions {
  readonly port: number;
  readonly dir: string;
  readonly logFile: string;
  /** Keep an RDB snapshot in `dir` across restarts (dev); tests turn it off. */
  readonly persist?: boolean;
  /** Command prefix the server runs under, e.g. `['taskset', '-c', '1']` (it execs: the pid stays the server's). */
  readonly prefix?: readonly string[];
}

export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalService> {
  const binary = findExecutable('redis-server');
  if (!binary) throw new ServiceStartFailed(installHint('redis'));
  mkdirSync(options.dir, { recursive: true });
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--dir',
    resolve(options.dir),
    '--save',
    options.persist ? '60 1' : '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
  ];
  const [command, ...prefixArgs] = [...(options.prefix ?? []), binary];
  return spawnService(
    'redis',
    `redis://127.0.0.1:${options.port}`,
    command!,
    [...prefixArgs, ...args],
    options.logFile,
    10_000,
  );
}

/** Where initdb and pg_ctl live: PATH first, else Debian's /usr/lib/postgresql/<newest>/bin. */
export function findPostgresBin(root = '/usr/lib/postgresql'): string | null {
  const onPath = findExecutable('pg_ctl');
  if (onPath && findExecutable('initdb')) return resolve(onPath, '..');
  if (!existsSync(root)) return null;
  const version = newestPostgresVersion(readdirSync(root));
  if (!version) return null;
  const bin = join(root, version, 'bin');
  return existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')) ? bin : null;
}

/** The uid/gid of the `postgres` system user, or null. */
function postgresUser(): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'postgres' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no passwd file
  }
  return null;
}

export interface LocalPostgresOptions {
  readonly port: number;
  readonly dataDir: string;
  /** Created if missing, owned by the `postgres` superuser, trust auth on loopback. */
  readonly database: string;
  /** Command prefix pg_ctl starts the server under, e.g. `['taskset', '-c', '1']` (its processes inherit it). */
  readonly prefix?: readonly string[];
}

/**
 * initdb (once) + pg_ctl start. initdb refuses to run as root, so as root both run as the `postgres`
 * system user (created by Debian's postgresql package) on a data directory chowned to it; the directory's
 * parents must be traversable by that user.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalService> {
  const bin = findPostgresBin();
  if (!bin) throw new ServiceStartFailed(installHint('postgres'));
  const dataDir = resolve(options.dataDir);
  const logFile = join(dataDir, 'server.log');
  const asUser = process.getuid?.() === 0 ? postgresUser() : null;
  if (process.getuid?.() === 0 && !asUser) {
    throw new ServiceStartFailed(
      'initdb refuses to run as root and there is no `postgres` user to run it as: install `postgresql` (it creates that user), or run npm start as a normal user',
    );
  }
  const run = (command: string, args: readonly string[], prefix: readonly string[] = []) => {
    const [executable, ...prefixArgs] = [...prefix, join(bin, command)];
    const result = spawnSync(executable!, [...prefixArgs, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      ...(asUser ?? {}),
    });
    if (result.error || result.status !== 0) {
      const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-6).join('\n');
      throw new ServiceStartFailed(
        `${command} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}\n(see ${logFile})`,
      );
    }
  };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (asUser) chownSync(dataDir, asUser.uid, asUser.gid);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  }
  // Socket in the data dir: never collides with a system cluster's /var/run/postgresql.
  run(
    'pg_ctl',
    [
      '-D',
      dataDir,
      '-l',
      logFile,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${options.port} -k ${dataDir} -c listen_addresses=127.0.0.1`,
      'start',
    ],
    options.prefix,
  );
  const url = `postgres://postgres@127.0.0.1:${options.port}/${options.database}`;
  const stop = async () => {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
      } catch {
        // already stopped
      }
    }
  };
  try {
    await ensureDatabase(`postgres://postgres@127.0.0.1:${options.port}/postgres`, options.database);
  } catch (error) {
    await stop();
    throw new ServiceStartFailed(
      `Postgres started but creating database ${options.database} failed: ${(error as Error).message}`,
    );
  }
  return {
    kind: 'postgres',
    url,
    logFile,
    stop,
    kill: () => {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
    },
  };
}

/** Creates `database` if it does not exist (CREATE DATABASE cannot run inside a transaction or take parameters). */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  if (!/^[A-Za-z0-9_]{1,63}$/.test(database))
    throw new Error(`database name ${JSON.stringify(database)} must be 1-63 of A-Z, a-z, 0-9, _`);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}
