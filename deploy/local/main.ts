/**
 * `npm run topology`: the clustered topology on this machine, without containers (see topology.ts).
 * Three NATS nodes (the pinned nats-server 2.10.27 unless NATS_SERVER_BIN says otherwise) on 4301-4303 (cluster 6301-6303, monitoring 8301-8303), data under .data/cluster/,
 * the stream at three replicas, two edges on 3001 and 3002 (each with the history API), the bitmap and
 * history projectors, every role run from the build as production runs it (`npm run topology` builds first).
 * Uses the machine's Redis and Postgres (starting local ones under .data/ when down, like `npm start`).
 * Ctrl-C stops everything it started.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/adapters/logger.ts';
import { ServiceStartFailed } from '../../src/adapters/services/local.ts';
import { commonSchema } from '../../src/config/common.ts';
import { loadConfig } from '../../src/config/load.ts';
import { devSessionSecret } from '../../src/roles/dev/secret.ts';
import { ensureServices } from '../../src/roles/dev/services.ts';
import { NatsServerUnavailable, resolveNatsServer } from './nats-server.ts';
import { repoRoot, startTopology } from './topology.ts';

if (!existsSync(join(repoRoot, 'dist', 'build.json'))) {
  process.stderr.write(
    'rplace topology: the roles run from dist/, which is missing or half-built (no dist/build.json): run `npm run topology` (it builds first) or `npm run build`\n',
  );
  process.exit(1);
}
const env = { ...process.env, CANVAS_ID: process.env.CANVAS_ID ?? 'topology' };
let config;
try {
  config = loadConfig(commonSchema, env);
} catch (error) {
  process.stderr.write(`rplace topology: ${(error as Error).message}\n`);
  process.exit(2);
}
const logger = createLogger('topology', config.LOG_LEVEL);
const dataDir = join(repoRoot, '.data');
const say = (line: string) => process.stdout.write(`[topology] ${line}\n`);

// The pinned 2.10.27 (or NATS_SERVER_BIN), never the machine's nats-server by default: deploy/local/nats-server.ts.
let natsServer;
try {
  natsServer = resolveNatsServer(repoRoot);
} catch (error) {
  if (!(error instanceof NatsServerUnavailable)) throw error;
  process.stderr.write(`rplace topology: ${error.message}\n`);
  process.exit(1);
}
say(
  `NATS: ${natsServer.version} (${natsServer.source === 'pinned' ? 'pinned by scripts/fetch-nats-server.mjs' : 'from NATS_SERVER_BIN'}: ${natsServer.path})`,
);

let services;
try {
  services = await ensureServices(
    { nats: config.NATS_URL, redis: config.REDIS_URL, postgres: config.DATABASE_URL },
    dataDir,
    true,
    logger,
    ['redis', 'postgres'],
  );
} catch (error) {
  process.stderr.write(`rplace topology: ${(error as Error).message}\n`);
  process.exit(error instanceof ServiceStartFailed ? 3 : 1);
}

const secret = process.env.SESSION_SECRET ?? devSessionSecret(join(dataDir, 'session-secret')).secret;
let topology;
try {
  topology = await startTopology({
    dataDir: join(dataDir, 'cluster'),
    natsPorts: [4301, 4302, 4303],
    edgePorts: [3001, 3002],
    projectorMetricsPorts: [9101, 9102],
    env: {
      CANVAS_ID: config.CANVAS_ID,
      REDIS_URL: config.REDIS_URL,
      DATABASE_URL: config.DATABASE_URL,
      SESSION_SECRET: secret,
      LOG_LEVEL: config.LOG_LEVEL,
      // A local demo, like npm start: guests may place unless the environment says otherwise.
      ALLOW_GUEST_PLACEMENT: process.env.ALLOW_GUEST_PLACEMENT ?? '1',
      // The edges serve the dataset export too: the same derived development salt as npm start's.
      EXPORT_USER_SALT:
        process.env.EXPORT_USER_SALT ?? createHash('sha256').update(`rplace-export-salt:${secret}`).digest('hex'),
    },
    onStep: say,
    compiled: true,
    natsServer,
  });
} catch (error) {
  process.stderr.write(`rplace topology: ${(error as Error).message}\n`);
  await services.stop();
  process.exit(1);
}

say(`up: canvas "${topology.canvasId}", NATS ${topology.natsUrl} (${natsServer.version})`);
say(
  `edges: ${topology.edgeUrls.join('  ')}   (metrics and health: <edge>/metrics, /healthz; history: <edge>/api/v1/history/…)`,
);
say(`logs: ${join(dataDir, 'cluster', 'logs')}   Ctrl-C stops everything`);
// NATS refuses anonymous clients here: the operator identity for the rplace CLI goes to a 0600 file, not the console.
const operator = topology.natsAuth('operator').user!;
const operatorEnv = join(dataDir, 'cluster', 'operator.env');
writeFileSync(
  operatorEnv,
  `NATS_URL=${topology.natsUrl}\nNATS_USER=${operator.name}\nNATS_PASSWORD=${operator.password}\nCANVAS_ID=${topology.canvasId}\n`,
  { mode: 0o600 },
);
say(`operator identity (rplace CLI): set -a; . ${operatorEnv}; set +a`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping`);
  await topology.stop();
  await services.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));

// A signal sent to `npm` alone (a supervisor stopping `npm run topology`) ends npm and its shell but never
// reaches this process under tsx, which would keep the whole topology running unowned: stop when npm, or a
// process between it and us, is gone. Started without npm, signals reach us directly and nothing is watched.
const launchers = npmLaunchChain();
setInterval(() => {
  if (launchers.some((pid) => !existsSync(`/proc/${pid}`))) void stop('npm, which launched the topology, exited');
}, 1_000).unref();

/** The parent process ids from ours up to the nearest `npm` (inclusive); empty without one or without /proc. */
function npmLaunchChain(): number[] {
  const chain: number[] = [];
  let pid = process.ppid;
  while (pid > 1 && chain.length < 8) {
    chain.push(pid);
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/^npm(\s|$)/.test(argv[0] ?? '') || argv.some((a) => a.endsWith('npm-cli.js'))) return chain;
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses: split after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return [];
}
