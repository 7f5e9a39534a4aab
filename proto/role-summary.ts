/**
 * The reply of a role to `rplace status` (NATS request on the status subject, JSON): what one process says
 * about itself. Built by `summarizeRole` (src/domain/role-status.ts); the CLI validates every reply with this
 * schema, so a malformed or oversized reply from any process is refused, never trusted.
 */
import { z } from 'zod';

/** Label values are bounded sets, but a reply must stay small whatever a future label holds. */
export const MAX_LABEL_ENTRIES = 32;
const counts = z
  .record(z.string().max(64), z.number().nonnegative())
  .refine((r) => Object.keys(r).length <= MAX_LABEL_ENTRIES, 'too many entries');
const ms = z.number().nonnegative().nullable();

export const RoleSummary = z.object({
  role: z.string().min(1).max(32),
  instance: z.string().min(1).max(128),
  pid: z.number().int().nonnegative(),
  version: z.string().max(32),
  uptimeSeconds: z.number().nonnegative(),
  rssBytes: z.number().nonnegative(),
  /** Edge: placements answered since the process started. */
  placements: z
    .object({
      accepted: z.number().nonnegative(),
      /** Of `accepted`: retries answered from JetStream's deduplication. */
      duplicates: z.number().nonnegative(),
      rejected: counts,
      appends: z.number().nonnegative(),
      appendP50Ms: ms,
      appendP99Ms: ms,
    })
    .optional(),
  /** Edge: WebSocket fan-out. */
  sockets: z
    .object({
      connections: z.number().nonnegative(),
      framesSent: z.number().nonnegative(),
      framesDropped: counts,
      resyncs: counts,
    })
    .optional(),
  /** The stream position this role has applied, its own sampled lag, and its batch sizes. */
  projection: z
    .object({
      name: z.string().max(32),
      seq: z.number().nonnegative().nullable(),
      lag: z.number().nullable(),
      batches: z.number().nonnegative(),
      meanBatch: z.number().nonnegative().nullable(),
      /** True once the projection stopped on a permanent failure (`rplace_projection_halted`). */
      halted: z.boolean().optional(),
      /** Stored events this role's readers skipped as invalid, by reason (`rplace_events_rejected_total`). */
      rejected: counts.optional(),
    })
    .optional(),
  /** History: the newest stored snapshot. */
  snapshot: z
    .object({ seq: z.number().nonnegative().nullable(), ageSeconds: z.number().nonnegative().nullable() })
    .optional(),
});
export type RoleSummary = z.infer<typeof RoleSummary>;
