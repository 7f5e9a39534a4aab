/**
 * What one role process tells `rplace status` about itself: a small summary of its own Prometheus
 * metrics, built here from a snapshot of the registry (pure: the NATS responder in
 * `src/adapters/nats/status-responder.ts` reads the registry and sends the result). The reply's schema is
 * proto/role-summary.ts.
 *
 * Each summary holds only the figures of its role, even where several roles share one process and one
 * registry (`npm start` answers once per role, every reply with the same instance): the edge owns the
 * placements, the append latency, the sockets and the `edge` feed; each projector owns its projection;
 * the history role also owns the snapshots.
 */
import { MAX_LABEL_ENTRIES, type RoleSummary } from '../../proto/role-summary.ts';

/** What prom-client's `metric.get()` returns, reduced to what a summary reads (no client import here). */
export interface MetricValues {
  readonly name: string;
  readonly values: readonly {
    readonly value: number;
    readonly labels: Readonly<Record<string, string | number | undefined>>;
    readonly metricName?: string | undefined;
  }[];
}

export const STATUS_ROLES = ['edge', 'bitmap-projector', 'history'] as const;
export type StatusRole = (typeof STATUS_ROLES)[number];

/** The `projection` / `stage` label each role owns. */
const PROJECTION_OF: Record<StatusRole, string> = { edge: 'edge', 'bitmap-projector': 'bitmap', history: 'history' };

export interface ProcessFacts {
  readonly role: StatusRole;
  readonly instance: string;
  readonly pid: number;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly rssBytes: number;
}

type Sample = MetricValues['values'][number];

function samples(
  snapshot: readonly MetricValues[],
  name: string,
  where: Readonly<Record<string, string>> = {},
  metricName = name,
): Sample[] {
  const metric = snapshot.find((m) => m.name === name);
  if (!metric) return [];
  return metric.values.filter(
    (v) =>
      (v.metricName ?? metric.name) === metricName &&
      Object.entries(where).every(([k, want]) => String(v.labels[k]) === want),
  );
}

const sum = (values: readonly Sample[]) => values.reduce((total, v) => total + v.value, 0);

function byLabel(values: readonly Sample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    if (v.value === 0) continue;
    const key = String(v.labels[label] ?? '');
    if (!(key in out) && Object.keys(out).length >= MAX_LABEL_ENTRIES) continue;
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** The single value of a gauge for `where`, or null when the role has not set it yet. */
function gauge(
  snapshot: readonly MetricValues[],
  name: string,
  where: Readonly<Record<string, string>> = {},
): number | null {
  const found = samples(snapshot, name, where);
  return found.length === 0 ? null : sum(found);
}

/**
 * Quantile `q` (0..1) of a Prometheus histogram, the way `histogram_quantile` estimates it: find the
 * bucket holding the q-th observation and interpolate linearly inside it (the first bucket starts at
 * 0; an observation past the last finite bound is reported as that bound). Buckets of every label
 * combination are added up. Null when nothing was observed.
 */
export function histogramQuantile(
  buckets: readonly { readonly le: number; readonly count: number }[],
  q: number,
): number | null {
  const merged = new Map<number, number>();
  for (const b of buckets) merged.set(b.le, (merged.get(b.le) ?? 0) + b.count);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, cumulative] of sorted) {
    if (cumulative >= rank && cumulative > lowerCount) {
      if (le === Infinity) return lowerBound;
      return lowerBound + (le - lowerBound) * ((rank - lowerCount) / (cumulative - lowerCount));
    }
    lowerBound = le === Infinity ? lowerBound : le;
    lowerCount = cumulative;
  }
  return lowerBound;
}

function bucketsOf(snapshot: readonly MetricValues[], name: string, where: Readonly<Record<string, string>> = {}) {
  return samples(snapshot, name, where, `${name}_bucket`).map((v) => ({
    le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le),
    count: v.value,
  }));
}

const round = (value: number | null, digits: number) => (value === null ? null : Number(value.toFixed(digits)));

/** The summary a role answers with, from a snapshot of its process's registry. */
export function summarizeRole(facts: ProcessFacts, snapshot: readonly MetricValues[]): RoleSummary {
  const summary: RoleSummary = {
    role: facts.role,
    instance: facts.instance,
    pid: facts.pid,
    version: facts.version,
    uptimeSeconds: round(facts.uptimeSeconds, 1) ?? 0,
    rssBytes: facts.rssBytes,
  };
  const projection = PROJECTION_OF[facts.role];
  if (facts.role === 'edge') {
    const accepted = samples(snapshot, 'rplace_placements_accepted_total');
    const appendBuckets = bucketsOf(snapshot, 'rplace_append_latency_seconds');
    const quantileMs = (q: number) => {
      const seconds = histogramQuantile(appendBuckets, q);
      return seconds === null ? null : round(seconds * 1000, 3);
    };
    summary.placements = {
      accepted: sum(accepted),
      duplicates: sum(accepted.filter((v) => v.labels.duplicate === 'true')),
      rejected: byLabel(samples(snapshot, 'rplace_placements_rejected_total'), 'reason'),
      appends: sum(samples(snapshot, 'rplace_append_latency_seconds', {}, 'rplace_append_latency_seconds_count')),
      appendP50Ms: quantileMs(0.5),
      appendP99Ms: quantileMs(0.99),
    };
    summary.sockets = {
      connections: gauge(snapshot, 'rplace_ws_connections') ?? 0,
      framesSent: sum(samples(snapshot, 'rplace_ws_frames_sent_total')),
      framesDropped: byLabel(samples(snapshot, 'rplace_ws_frames_dropped_total'), 'reason'),
      resyncs: byLabel(samples(snapshot, 'rplace_resyncs_total'), 'reason'),
    };
  }
  const batches = sum(
    samples(snapshot, 'rplace_batch_size_events', { stage: projection }, 'rplace_batch_size_events_count'),
  );
  const batchEvents = sum(
    samples(snapshot, 'rplace_batch_size_events', { stage: projection }, 'rplace_batch_size_events_sum'),
  );
  summary.projection = {
    name: projection,
    seq: gauge(snapshot, 'rplace_projection_seq', { projection }),
    lag: gauge(snapshot, 'rplace_projection_lag_events', { projection }),
    batches,
    meanBatch: batches === 0 ? null : round(batchEvents / batches, 1),
    halted: (gauge(snapshot, 'rplace_projection_halted', { projection }) ?? 0) > 0,
    // Readers are labelled after their projection (`bitmap-projector`, `bitmap-rebuild`, `history-tail`, `edge`).
    rejected: byLabel(
      samples(snapshot, 'rplace_events_rejected_total').filter((v) =>
        String(v.labels.reader ?? '').startsWith(projection),
      ),
      'reason',
    ),
  };
  if (facts.role === 'history') {
    summary.snapshot = {
      seq: gauge(snapshot, 'rplace_snapshot_seq'),
      ageSeconds: round(gauge(snapshot, 'rplace_snapshot_age_seconds'), 1),
    };
  }
  return summary;
}

/**
 * A role's lag as `rplace status` reports it: the stream's last sequence (read by the command) minus the
 * sequence the role says it applied, which is current; the role's own gauge (sampled every few seconds)
 * only when either is unknown.
 */
export function lagAgainst(summary: RoleSummary, streamLastSeq: number | null): number | null {
  const p = summary.projection;
  if (!p) return null;
  if (p.seq !== null && streamLastSeq !== null) return Math.max(0, streamLastSeq - p.seq);
  return p.lag;
}
