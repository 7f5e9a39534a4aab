/**
 * `rplace status`: where the stream is and how far behind each projection is.
 *
 *   stream     last sequence, message count, bytes
 *   bitmap     sequence stored in Redis next to the canvas, and lag (stream last − bitmap)
 *   history    every row of `<schema>.projection_positions` in Postgres (when the schema exists), and lag
 *   consumers  each durable consumer's ack floor, pending (not yet delivered) and ack-pending counts
 *
 * Each section fails on its own: an unreachable Redis or Postgres prints one line in its place and the
 * exit code becomes 1, but the other sections still print. `--json` prints the same as one object.
 */
import type { Command } from 'commander';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import pg from 'pg';
import { connectNats } from '../../adapters/nats/connect.ts';
import { connectRedis } from '../../adapters/redis/connect.ts';
import { commonSchema, type CommonConfig } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor, type Names } from '../../config/names.ts';
import { cliAction } from '../action.ts';

interface Status {
  stream: { name: string; lastSeq: number; messages: number; bytes: number } | { name: string; error: string };
  consumers: { name: string; ackFloor: number; pending: number; ackPending: number; waiting: number }[] | { error: string };
  projections: { name: string; store: string; seq: number | null; lag: number | null }[];
  errors: string[];
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function natsStatus(config: CommonConfig, names: Names, status: Status): Promise<number | null> {
  const nc = await connectNats(config.NATS_URL, `rplace-cli-status-${names.canvasId}`);
  try {
    const jsm = await jetstreamManager(nc);
    try {
      const info = await jsm.streams.info(names.stream);
      status.stream = { name: names.stream, lastSeq: info.state.last_seq, messages: info.state.messages, bytes: info.state.bytes };
    } catch (error) {
      const missing = error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
      status.stream = { name: names.stream, error: missing ? 'does not exist (run: rplace streams apply)' : message(error) };
      status.consumers = { error: 'no stream' };
      if (!missing) status.errors.push(`stream: ${message(error)}`);
      return null;
    }
    const consumers: Extract<Status['consumers'], unknown[]> = [];
    for await (const c of jsm.consumers.list(names.stream)) {
      if (!c.config.durable_name) continue;
      consumers.push({ name: c.name, ackFloor: c.ack_floor.stream_seq, pending: c.num_pending, ackPending: c.num_ack_pending, waiting: c.num_waiting });
    }
    status.consumers = consumers;
    return status.stream.lastSeq;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

async function bitmapSeq(config: CommonConfig, names: Names): Promise<number | null> {
  const redis = await connectRedis(config.REDIS_URL, `rplace-cli-status-${names.canvasId}`);
  try {
    const value = await redis.get(names.canvasSeqKey);
    return value === null ? null : Number(value);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function historyPositions(config: CommonConfig, names: Names): Promise<{ name: string; seq: number }[] | null> {
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: 5_000, statement_timeout: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot reach Postgres: ${message(error)}`);
  }
  try {
    const table = `"${names.pgSchema}".projection_positions`;
    const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table]);
    if (exists.rows[0]?.t == null) return null;
    const rows = await client.query<{ name: string; seq: string }>(`SELECT name, seq FROM ${table} ORDER BY name`);
    return rows.rows.map((r) => ({ name: r.name, seq: Number(r.seq) }));
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function collect(config: CommonConfig): Promise<Status> {
  const names = namesFor(config.CANVAS_ID);
  const status: Status = { stream: { name: names.stream, error: 'unknown' }, consumers: [], projections: [], errors: [] };
  const [last, bitmap, history] = await Promise.allSettled([natsStatus(config, names, status), bitmapSeq(config, names), historyPositions(config, names)]);
  if (last.status === 'rejected') {
    status.stream = { name: names.stream, error: message(last.reason) };
    status.consumers = { error: 'NATS unreachable' };
    status.errors.push(`stream: ${message(last.reason)}`);
  }
  const lastSeq = last.status === 'fulfilled' ? last.value : null;
  const lag = (seq: number | null) => (seq === null || lastSeq === null ? null : lastSeq - seq);
  if (bitmap.status === 'fulfilled') {
    status.projections.push({ name: 'bitmap', store: `redis ${names.canvasSeqKey}`, seq: bitmap.value, lag: lag(bitmap.value) });
  } else {
    status.errors.push(`bitmap: ${message(bitmap.reason)}`);
  }
  if (history.status === 'fulfilled') {
    for (const row of history.value ?? []) {
      status.projections.push({ name: row.name, store: `postgres ${names.pgSchema}.projection_positions`, seq: row.seq, lag: lag(row.seq) });
    }
  } else {
    status.errors.push(`history: ${message(history.reason)}`);
  }
  return status;
}

function print(status: Status): void {
  const out: string[] = [];
  const s = status.stream;
  out.push('error' in s ? `stream ${s.name}: ${s.error}` : `stream ${s.name}: last sequence ${s.lastSeq}, ${s.messages} messages, ${s.bytes} bytes`);
  out.push('projections:');
  if (status.projections.length === 0) out.push('  (none stored yet)');
  for (const p of status.projections) {
    out.push(`  ${p.name.padEnd(20)} ${p.seq === null ? 'no bitmap stored' : `seq ${p.seq}`}${p.lag === null ? '' : `, lag ${p.lag}`}  (${p.store})`);
  }
  out.push('durable consumers:');
  if (!Array.isArray(status.consumers)) out.push(`  ${status.consumers.error}`);
  else if (status.consumers.length === 0) out.push('  (none)');
  else for (const c of status.consumers) out.push(`  ${c.name.padEnd(20)} ack floor ${c.ackFloor}, pending ${c.pending}, ack pending ${c.ackPending}, waiting pulls ${c.waiting}`);
  for (const e of status.errors) out.push(`error: ${e}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerStatus(program: Command): void {
  program.command('status')
    .description('the stream\'s last sequence and each projection\'s sequence and lag')
    .option('--json', 'print JSON')
    .action(cliAction('status', async (opts: { json?: boolean }) => {
      const status = await collect(loadConfig(commonSchema));
      if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else print(status);
      if (status.errors.length > 0) process.exitCode = 1;
    }));
}
