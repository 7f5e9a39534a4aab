/**
 * The roles part of `rplace status`: one table row per answering role process, then one line per row
 * that rejected placements (reasons do not fit a column). Pure: summaries in, lines out.
 */
import { lagAgainst, STATUS_ROLES } from '../domain/role-status.ts';
import type { RoleSummary } from '../../proto/role-summary.ts';

export interface RoleReplies {
  /** How long the command listened for replies. */
  readonly waitedMs: number;
  readonly answered: readonly RoleSummary[];
  /** Replies that were too large, not JSON or not a summary: counted, never shown. */
  readonly unreadable: number;
}

/** `42s`, `5m03s`, `2h05m`, `3d04h`. */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

function formatMs(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

const total = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);

const listCounts = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** Roles in pipeline order (edge, bitmap, history, then any other), then by instance. */
export function sortRoles(roles: readonly RoleSummary[]): RoleSummary[] {
  const rank = (role: string) => {
    const i = (STATUS_ROLES as readonly string[]).indexOf(role);
    return i === -1 ? STATUS_ROLES.length : i;
  };
  return [...roles].sort(
    (a, b) => rank(a.role) - rank(b.role) || a.role.localeCompare(b.role) || a.instance.localeCompare(b.instance),
  );
}

const COLUMNS = [
  'role',
  'instance',
  'up',
  'accepted',
  '/s',
  'rejected',
  'append p50/p99 ms',
  'conns',
  'frames sent/dropped',
  'resyncs',
  'seq',
  'lag',
  'batch',
  'snapshot',
  'skipped',
] as const;

function row(r: RoleSummary, streamLastSeq: number | null): string[] {
  const p = r.placements;
  const s = r.sockets;
  const lag = lagAgainst(r, streamLastSeq);
  const rate = p && r.uptimeSeconds > 0 ? (p.accepted / r.uptimeSeconds).toFixed(2) : '-';
  const age = r.snapshot?.ageSeconds == null ? null : `${formatUptime(r.snapshot.ageSeconds)} ago`;
  const snapshot = age === null ? '-' : r.snapshot?.seq == null ? age : `${age} @${r.snapshot.seq}`;
  return [
    r.role,
    r.instance,
    formatUptime(r.uptimeSeconds),
    p ? String(p.accepted) : '-',
    rate,
    p ? String(total(p.rejected)) : '-',
    p ? `${formatMs(p.appendP50Ms)}/${formatMs(p.appendP99Ms)}` : '-',
    s ? String(s.connections) : '-',
    s ? `${s.framesSent}/${total(s.framesDropped)}` : '-',
    s ? String(total(s.resyncs)) : '-',
    r.projection?.seq == null ? '-' : String(r.projection.seq),
    `${lag === null ? '-' : String(lag)}${r.projection?.halted ? ' HALTED' : ''}`,
    r.projection?.meanBatch == null ? '-' : String(r.projection.meanBatch),
    snapshot,
    r.projection?.rejected ? String(total(r.projection.rejected)) : '-',
  ];
}

/**
 * The lines `rplace status` prints about the role processes. `streamLastSeq` (null when the stream could
 * not be read) turns each role's reported sequence into its lag.
 */
export function formatRoles(replies: RoleReplies, streamLastSeq: number | null): string[] {
  const out: string[] = [];
  const unreadable =
    replies.unreadable > 0
      ? ` (${replies.unreadable} unreadable ${replies.unreadable === 1 ? 'reply' : 'replies'} ignored)`
      : '';
  if (replies.answered.length === 0) {
    out.push(`roles: no role answered within ${replies.waitedMs} ms${unreadable}`);
    return out;
  }
  const roles = sortRoles(replies.answered);
  out.push(`roles (${roles.length} answered within ${replies.waitedMs} ms)${unreadable}:`);
  const rows = [[...COLUMNS], ...roles.map((r) => row(r, streamLastSeq))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((cells) => cells[i]!.length)));
  for (const [index, cells] of rows.entries()) {
    out.push(
      `  ${cells
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}`,
    );
    const role = index === 0 ? undefined : roles[index - 1];
    if (role?.placements && total(role.placements.rejected) > 0)
      out.push(`    rejected: ${listCounts(role.placements.rejected)}`);
  }
  return out;
}
