/**
 * The pure half of `rplace status`'s role figures: a prom-client registry snapshot becomes a role's
 * summary (only its own figures), and summaries become the printed table.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  histogramQuantile,
  lagAgainst,
  summarizeRole,
  type MetricValues,
  type ProcessFacts,
} from '../../src/domain/role-status.ts';
import { RoleSummary } from '../../proto/role-summary.ts';
import { formatRoles, formatUptime } from '../../src/cli/role-table.ts';

/** A private registry shaped like src/adapters/metrics.ts (same names, labels and buckets). */
function registryLike() {
  const registers = [new Registry()];
  return {
    accepted: new Counter({
      name: 'rplace_placements_accepted_total',
      help: 'h',
      labelNames: ['duplicate'],
      registers,
    }),
    rejected: new Counter({ name: 'rplace_placements_rejected_total', help: 'h', labelNames: ['reason'], registers }),
    append: new Histogram({
      name: 'rplace_append_latency_seconds',
      help: 'h',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    lag: new Gauge({ name: 'rplace_projection_lag_events', help: 'h', labelNames: ['projection'], registers }),
    seq: new Gauge({ name: 'rplace_projection_seq', help: 'h', labelNames: ['projection'], registers }),
    batch: new Histogram({
      name: 'rplace_batch_size_events',
      help: 'h',
      labelNames: ['stage'],
      buckets: [1, 2, 5, 10],
      registers,
    }),
    connections: new Gauge({ name: 'rplace_ws_connections', help: 'h', registers }),
    sent: new Counter({ name: 'rplace_ws_frames_sent_total', help: 'h', labelNames: ['kind'], registers }),
    dropped: new Counter({ name: 'rplace_ws_frames_dropped_total', help: 'h', labelNames: ['reason'], registers }),
    resyncs: new Counter({ name: 'rplace_resyncs_total', help: 'h', labelNames: ['reason'], registers }),
    snapshotAge: new Gauge({ name: 'rplace_snapshot_age_seconds', help: 'h', registers }),
    snapshotSeq: new Gauge({ name: 'rplace_snapshot_seq', help: 'h', registers }),
    halted: new Gauge({ name: 'rplace_projection_halted', help: 'h', labelNames: ['projection'], registers }),
    eventsRejected: new Counter({
      name: 'rplace_events_rejected_total',
      help: 'h',
      labelNames: ['reader', 'reason'],
      registers,
    }),
  };
}
type Metrics = ReturnType<typeof registryLike>;
const snapshotOf = (m: Metrics): Promise<MetricValues[]> => Promise.all(Object.values(m).map((metric) => metric.get()));
const facts = (role: ProcessFacts['role']): ProcessFacts => ({
  role,
  instance: 'host:42',
  pid: 42,
  version: '0.1.0',
  uptimeSeconds: 100,
  rssBytes: 50e6,
});

/** One process running every role, as `npm start` does: each role must report only its own figures. */
async function busyProcess(): Promise<MetricValues[]> {
  const m = registryLike();
  for (let i = 0; i < 40; i++) m.accepted.inc({ duplicate: 'false' });
  m.accepted.inc({ duplicate: 'true' }, 2);
  m.rejected.inc({ reason: 'cooldown' }, 5);
  m.rejected.inc({ reason: 'invalid_color' });
  // 100 appends: 60 in (1, 2.5] ms, 39 in (2.5, 5], 1 at 40 ms: p50 = 1 + 1.5 × 50/60 = 2.25, p99 = 5.
  for (let i = 0; i < 60; i++) m.append.observe({ result: 'ok' }, 0.002);
  for (let i = 0; i < 39; i++) m.append.observe({ result: 'ok' }, 0.004);
  m.append.observe({ result: 'error' }, 0.04);
  m.connections.set(7);
  m.sent.inc({ kind: 'pixels_topic' }, 30);
  m.sent.inc({ kind: 'hello' }, 7);
  m.dropped.inc({ reason: 'backpressure' }, 2);
  m.resyncs.inc({ reason: 'client_behind_ring' });
  m.seq.set({ projection: 'edge' }, 42);
  m.seq.set({ projection: 'bitmap' }, 40);
  m.lag.set({ projection: 'bitmap' }, 2);
  m.seq.set({ projection: 'history' }, 35);
  m.lag.set({ projection: 'history' }, 7);
  m.batch.observe({ stage: 'edge' }, 2);
  m.batch.observe({ stage: 'edge' }, 4);
  m.batch.observe({ stage: 'bitmap' }, 10);
  m.batch.observe({ stage: 'history' }, 5);
  m.snapshotSeq.set(30);
  m.snapshotAge.set(12.345);
  m.halted.set({ projection: 'history' }, 1);
  m.halted.set({ projection: 'bitmap' }, 0);
  m.eventsRejected.inc({ reader: 'edge', reason: 'bounds' }, 3);
  m.eventsRejected.inc({ reader: 'bitmap-projector', reason: 'bounds' }, 3);
  m.eventsRejected.inc({ reader: 'bitmap-rebuild', reason: 'color' }, 1);
  return snapshotOf(m);
}

describe('histogramQuantile', () => {
  it('interpolates inside the bucket holding the q-th observation, like Prometheus', () => {
    const buckets = [
      { le: 1, count: 0 },
      { le: 2, count: 10 },
      { le: 4, count: 20 },
      { le: Infinity, count: 20 },
    ];
    expect(histogramQuantile(buckets, 0.5)).toBe(2); // the 10th of 20 sits at the top of (1, 2]
    expect(histogramQuantile(buckets, 0.25)).toBe(1.5);
    expect(histogramQuantile(buckets, 0.75)).toBe(3);
  });

  it('reports observations past the last bound as that bound, adds label sets, and is null when empty', () => {
    expect(
      histogramQuantile(
        [
          { le: 1, count: 1 },
          { le: Infinity, count: 10 },
        ],
        0.99,
      ),
    ).toBe(1);
    expect(
      histogramQuantile(
        [
          { le: 1, count: 1 },
          { le: Infinity, count: 1 },
          { le: 1, count: 1 },
          { le: Infinity, count: 1 },
        ],
        0.5,
      ),
    ).toBe(0.5);
    expect(
      histogramQuantile(
        [
          { le: 1, count: 0 },
          { le: Infinity, count: 0 },
        ],
        0.5,
      ),
    ).toBeNull();
    expect(histogramQuantile([], 0.5)).toBeNull();
  });
});

describe('summarizeRole', () => {
  it('gives the edge its placements, append p50/p99, sockets and feed, and nothing of the projectors', async () => {
    const summary = summarizeRole(facts('edge'), await busyProcess());
    expect(RoleSummary.parse(summary)).toEqual(summary);
    expect(summary.placements).toEqual({
      accepted: 42,
      duplicates: 2,
      rejected: { cooldown: 5, invalid_color: 1 },
      appends: 100,
      appendP50Ms: 2.25,
      appendP99Ms: 5,
    });
    expect(summary.sockets).toEqual({
      connections: 7,
      framesSent: 37,
      framesDropped: { backpressure: 2 },
      resyncs: { client_behind_ring: 1 },
    });
    expect(summary.projection).toEqual({
      name: 'edge',
      seq: 42,
      lag: null,
      batches: 2,
      meanBatch: 3,
      halted: false,
      rejected: { bounds: 3 },
    });
    expect(summary.snapshot).toBeUndefined();
    expect(summary).toMatchObject({ role: 'edge', instance: 'host:42', pid: 42, version: '0.1.0', uptimeSeconds: 100 });
  });

  it('gives each projector its own projection, and history its snapshot', async () => {
    const snapshot = await busyProcess();
    const bitmap = summarizeRole(facts('bitmap-projector'), snapshot);
    expect(bitmap.placements).toBeUndefined();
    expect(bitmap.sockets).toBeUndefined();
    expect(bitmap.projection).toEqual({
      name: 'bitmap',
      seq: 40,
      lag: 2,
      batches: 1,
      meanBatch: 10,
      halted: false,
      rejected: { bounds: 3, color: 1 },
    });
    const history = summarizeRole(facts('history'), snapshot);
    expect(history.projection).toEqual({
      name: 'history',
      seq: 35,
      lag: 7,
      batches: 1,
      meanBatch: 5,
      halted: true,
      rejected: {},
    });
    expect(history.snapshot).toEqual({ seq: 30, ageSeconds: 12.3 });
  });

  it('says "not known yet" (null) rather than 0 for what a fresh role has not measured', async () => {
    const summary = summarizeRole(facts('edge'), await snapshotOf(registryLike()));
    expect(summary.placements).toMatchObject({
      accepted: 0,
      rejected: {},
      appends: 0,
      appendP50Ms: null,
      appendP99Ms: null,
    });
    expect(summary.projection).toEqual({
      name: 'edge',
      seq: null,
      lag: null,
      batches: 0,
      meanBatch: null,
      halted: false,
      rejected: {},
    });
  });
});

describe('lagAgainst', () => {
  it("uses the stream when both sequences are known, else the role's own gauge", async () => {
    const bitmap = summarizeRole(facts('bitmap-projector'), await busyProcess());
    expect(lagAgainst(bitmap, 45)).toBe(5);
    expect(lagAgainst(bitmap, 39)).toBe(0); // the stream was read before the role answered
    expect(lagAgainst(bitmap, null)).toBe(2);
  });
});

describe('formatRoles', () => {
  it('prints one aligned row per process, pipeline order, with the figures in their columns', async () => {
    const snapshot = await busyProcess();
    const lines = formatRoles(
      {
        waitedMs: 400,
        unreadable: 1,
        answered: [
          summarizeRole(facts('history'), snapshot),
          summarizeRole(facts('edge'), snapshot),
          summarizeRole(facts('bitmap-projector'), snapshot),
        ],
      },
      44,
    );
    expect(lines[0]).toBe('roles (3 answered within 400 ms) (1 unreadable reply ignored):');
    const header = lines[1]!;
    const cell = (line: string, column: string) => line.slice(header.indexOf(column)).split(/\s{2,}/)[0];
    const [edge, rejected, bitmap, history] = lines.slice(2);
    expect(lines).toHaveLength(6);
    expect(edge).toMatch(/^ {2}edge {2,}host:42 {2,}1m40s /);
    expect(cell(edge!, 'accepted')).toBe('42');
    expect(cell(edge!, '/s')).toBe('0.42');
    expect(cell(edge!, 'rejected')).toBe('6');
    expect(cell(edge!, 'append p50/p99 ms')).toBe('2.25/5.00');
    expect(cell(edge!, 'conns')).toBe('7');
    expect(cell(edge!, 'frames sent/dropped')).toBe('37/2');
    expect(cell(edge!, 'resyncs')).toBe('1');
    expect(cell(edge!, 'seq')).toBe('42');
    expect(cell(edge!, 'lag')).toBe('2');
    expect(cell(edge!, 'batch')).toBe('3');
    expect(rejected).toBe('    rejected: cooldown 5, invalid_color 1');
    expect(bitmap).toMatch(/^ {2}bitmap-projector /);
    expect(cell(bitmap!, 'conns')).toBe('-');
    expect(cell(bitmap!, 'lag')).toBe('4');
    expect(cell(history!, 'lag')).toBe('9 HALTED');
    expect(cell(history!, 'snapshot')).toBe('12s ago @30');
    expect(cell(bitmap!, 'skipped')).toBe('4');
    expect(cell(edge!, 'skipped')).toBe('3');
  });

  it('says plainly when no role answered', () => {
    expect(formatRoles({ waitedMs: 250, answered: [], unreadable: 0 }, 10)).toEqual([
      'roles: no role answered within 250 ms',
    ]);
  });

  it('formats uptimes compactly', () => {
    expect([5, 65, 3_725, 90_061 * 3].map(formatUptime)).toEqual(['5s', '1m05s', '1h02m', '3d03h']);
  });
});
