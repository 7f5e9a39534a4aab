/**
 * `rplace status`: where the stream is, how far behind each projection is, and what every running role
 * process says about itself.
 *
 *   stream     last sequence, message count, bytes
 *   bitmap     sequence stored in Redis next to the canvas, and lag (stream last − bitmap)
 *   history    every row of `<schema>.projection_positions` in Postgres (when the schema exists), and lag
 *   consumers  each durable consumer's ack floor, pending (not yet delivered) and ack-pending counts
 *   roles      one row per role process that answered the status request on NATS within `--wait` ms
 *              (src/adapters/nats/status-responder.ts): uptime, placements, append latency, sockets,
 *              frames, resyncs, its sequence and lag, batch size, snapshot age
 *
 * Each section fails on its own: an unreachable Redis or Postgres prints one line in its place and the
 * exit code becomes 3 (another failure: 1), but the other sections still print. A role that does not answer is absent (no
 * role answering is said, and is not an error). `--json` prints the same as one object.
 */
import type { Command } from 'commander';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { requestRoleStatus, type StatusReplies } from '../../adapters/nats/status-responder.ts';
import { readProjectionPositions } from '../../adapters/pg/projection-positions.ts';
import { createRedisBitmapStore } from '../../adapters/redis/bitmap-store.ts';
import { canvasSpecOf, commonSchema, natsAuthOf, type CommonConfig } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor, type Names } from '../../domain/names.ts';
import { lagAgainst } from '../../domain/role-status.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openNats, openPg, openRedis, withLifecycle } from '../../roles/lifecycle.ts';
import { formatRoles } from '../role-table.ts';
import { ExitCode, exitCodeFor, UsageError } from '../../exit-codes.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';

/** Long enough for every process on a loaded cluster to answer; `--wait` changes it. */
export const DEFAULT_STATUS_WAIT_MS = 400;
const MIN_WAIT_MS = 10;
const MAX_WAIT_MS = 60_000;

export interface Status {
  stream: { name: string; lastSeq: number; messages: number; bytes: number } | { name: string; error: string };
  consumers:
    | { name: string; ackFloor: number; pending: number; ackPending: number; waiting: number }[]
    | { error: string };
  projections: { name: string; store: string; seq: number | null; lag: number | null }[];
  /** The role processes that answered; each projection's `lag` is recomputed against the stream's last sequence. */
  roles: StatusReplies | { error: string };
  errors: string[];
  /** The command's exit code by the one policy (src/exit-codes.ts): 3 when a section's service was unreachable, 1 for any other failure. */
  exitCode: number;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function natsStatus(config: CommonConfig, names: Names, status: Status, waitMs: number): Promise<number | null> {
  return withLifecycle(cliLogger(), async (life) => {
    const nc = await openNats(
      life,
      config.NATS_URL,
      `rplace-cli-status-${names.canvasId}`,
      natsAuthOf(config, natsInboxPrefix('operator', names)),
    );
    // Asked first and gathered while the stream is read: the wait overlaps the JetStream calls.
    const roles = requestRoleStatus(nc, names.canvasId, waitMs).catch((error: unknown) => ({ error: message(error) }));
    const lastSeq = await streamStatus(nc, names, status);
    const replies = await roles;
    if ('error' in replies) {
      status.roles = replies;
      status.errors.push(`roles: ${replies.error}`);
    } else {
      status.roles = {
        ...replies,
        answered: replies.answered.map((r) =>
          r.projection ? { ...r, projection: { ...r.projection, lag: lagAgainst(r, lastSeq) } } : r,
        ),
      };
    }
    return lastSeq;
  });
}

async function streamStatus(nc: NatsConnection, names: Names, status: Status): Promise<number | null> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(names.stream);
    status.stream = {
      name: names.stream,
      lastSeq: info.state.last_seq,
      messages: info.state.messages,
      bytes: info.state.bytes,
    };
  } catch (error) {
    const missing = error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
    status.stream = {
      name: names.stream,
      error: missing ? 'does not exist (run: rplace streams apply)' : message(error),
    };
    status.consumers = { error: 'no stream' };
    if (!missing) status.errors.push(`stream: ${message(error)}`);
    return null;
  }
  const consumers: Extract<Status['consumers'], unknown[]> = [];
  for await (const c of jsm.consumers.list(names.stream)) {
    if (!c.config.durable_name) continue;
    consumers.push({
      name: c.name,
      ackFloor: c.ack_floor.stream_seq,
      pending: c.num_pending,
      ackPending: c.num_ack_pending,
      waiting: c.num_waiting,
    });
  }
  status.consumers = consumers;
  return status.stream.lastSeq;
}

function bitmapSeq(config: CommonConfig, names: Names): Promise<number | null> {
  return withLifecycle(cliLogger(), async (life) => {
    const redis = await openRedis(life, config.REDIS_URL, `rplace-cli-status-${names.canvasId}`);
    return createRedisBitmapStore(redis, names, canvasSpecOf(config)).seq();
  });
}

function historyPositions(config: CommonConfig, names: Names): Promise<{ name: string; seq: number }[] | null> {
  const logger = cliLogger();
  return withLifecycle(logger, async (life) =>
    readProjectionPositions(
      await openPg(life, config.DATABASE_URL, names.pgSchema, logger, { max: 1, statementTimeoutMs: 10_000 }),
    ),
  );
}

/** Everything `rplace status` prints, as one object (also what `--json` prints). */
export async function collectStatus(config: CommonConfig, waitMs = DEFAULT_STATUS_WAIT_MS): Promise<Status> {
  const names = namesFor(config.CANVAS_ID);
  const status: Status = {
    stream: { name: names.stream, error: 'unknown' },
    consumers: [],
    projections: [],
    roles: { error: 'not asked' },
    errors: [],
    exitCode: ExitCode.ok,
  };
  const settled = await Promise.allSettled([
    natsStatus(config, names, status, waitMs),
    bitmapSeq(config, names),
    historyPositions(config, names),
  ]);
  const [last, bitmap, history] = settled;
  for (const s of settled)
    if (s.status === 'rejected') status.exitCode = Math.max(status.exitCode, exitCodeFor(s.reason));
  if (last.status === 'rejected') {
    status.stream = { name: names.stream, error: message(last.reason) };
    status.consumers = { error: 'NATS unreachable' };
    status.roles = { error: 'NATS unreachable' };
    status.errors.push(`stream: ${message(last.reason)}`);
  }
  const lastSeq = last.status === 'fulfilled' ? last.value : null;
  const lag = (seq: number | null) => (seq === null || lastSeq === null ? null : lastSeq - seq);
  if (bitmap.status === 'fulfilled') {
    status.projections.push({
      name: 'bitmap',
      store: `redis ${names.canvasSeqKey}`,
      seq: bitmap.value,
      lag: lag(bitmap.value),
    });
  } else {
    status.errors.push(`bitmap: ${message(bitmap.reason)}`);
  }
  if (history.status === 'fulfilled') {
    const store = `postgres ${names.pgSchema}.projection_positions`;
    const rows = history.value ?? [];
    for (const row of rows) status.projections.push({ name: row.name, store, seq: row.seq, lag: lag(row.seq) });
    // Listed even before its first batch, like the bitmap, so an operator sees it is expected.
    if (!rows.some((r) => r.name === names.consumers.history))
      status.projections.push({ name: names.consumers.history, store, seq: null, lag: null });
  } else {
    status.errors.push(`history: ${message(history.reason)}`);
  }
  return status;
}

/** The human-readable form of a status. */
export function formatStatus(status: Status): string {
  const out: string[] = [];
  const s = status.stream;
  out.push(
    'error' in s
      ? `stream ${s.name}: ${s.error}`
      : `stream ${s.name}: last sequence ${s.lastSeq}, ${s.messages} messages, ${s.bytes} bytes`,
  );
  out.push('projections:');
  if (status.projections.length === 0) out.push('  (none stored yet)');
  for (const p of status.projections) {
    out.push(
      `  ${p.name.padEnd(20)} ${p.seq === null ? 'nothing stored yet' : `seq ${p.seq}`}${p.lag === null ? '' : `, lag ${p.lag}`}  (${p.store})`,
    );
  }
  out.push('durable consumers:');
  if (!Array.isArray(status.consumers)) out.push(`  ${status.consumers.error}`);
  else if (status.consumers.length === 0) out.push('  (none)');
  else
    for (const c of status.consumers)
      out.push(
        `  ${c.name.padEnd(20)} ack floor ${c.ackFloor}, pending ${c.pending}, ack pending ${c.ackPending}, waiting pulls ${c.waiting}`,
      );
  // Each role's lag was already recomputed against the stream in collectStatus (null stream: kept as sent).
  if ('error' in status.roles) out.push(`roles: ${status.roles.error}`);
  else out.push(...formatRoles(status.roles, null));
  for (const e of status.errors) out.push(`error: ${e}`);
  return `${out.join('\n')}\n`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("the stream's last sequence, each projection's sequence and lag, and every running role's figures")
    .option('--json', 'print JSON')
    .option(
      '--wait <ms>',
      `how long to gather the role processes' replies (${MIN_WAIT_MS}-${MAX_WAIT_MS})`,
      String(DEFAULT_STATUS_WAIT_MS),
    )
    .action(
      cliAction('status', async (opts: { json?: boolean; wait: string }) => {
        const wait = Number(opts.wait);
        if (!/^\d+$/.test(opts.wait) || wait < MIN_WAIT_MS || wait > MAX_WAIT_MS)
          throw new UsageError(
            `--wait must be a whole number of milliseconds, ${MIN_WAIT_MS}-${MAX_WAIT_MS} (got "${opts.wait}")`,
          );
        const status = await collectStatus(loadConfig(commonSchema), wait);
        if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        else process.stdout.write(formatStatus(status));
        process.exitCode = status.errors.length > 0 ? Math.max(status.exitCode, ExitCode.failure) : ExitCode.ok;
      }),
    );
}
