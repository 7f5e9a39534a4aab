/**
 * `rplace status` asks every role process of a canvas for a summary of its metrics over core NATS, so an
 * operator needs no list of hosts or metrics ports: one request, every process that hears it answers.
 *
 * Subject: `rplace-ctl.<canvas>.status` — next to the revocations' `rplace-ctl.<canvas>.revoke`, OUTSIDE
 * the canvas stream's `rplace.<canvas>.>`, so a request never lands in the event log. No queue group:
 * every process answers. The request's payload is ignored (the responder reads nothing from it, so it
 * cannot be made to do anything but answer); the reply is one `RoleSummary` as JSON, at most
 * `MAX_STATUS_REPLY_BYTES`.
 */
import { Empty, NoRespondersError, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { RoleSummary } from '../../../proto/role-summary.ts';
import { summarizeRole, type StatusRole } from '../../domain/role-status.ts';
import { metrics, metricsInstance } from '../metrics.ts';
import { namesFor } from '../../domain/names.ts';
// Imported (not read at run time) so `npm run build` emits it next to the compiled code: dist/package.json.
import pkg from '../../../package.json' with { type: 'json' };

export const MAX_STATUS_REPLY_BYTES = 8192;

export function statusSubject(canvasId: string): string {
  return namesFor(canvasId).control.status;
}

const version = pkg.version.slice(0, 32);

async function buildReply(role: StatusRole): Promise<Uint8Array> {
  const snapshot = await Promise.all(Object.values(metrics).map((metric) => metric.get()));
  const summary = summarizeRole(
    {
      role,
      instance: metricsInstance(),
      pid: process.pid,
      version,
      uptimeSeconds: process.uptime(),
      rssBytes: process.memoryUsage.rss(),
    },
    snapshot,
  );
  return new TextEncoder().encode(JSON.stringify(summary));
}

/**
 * Answers every status request of `canvasId` with this role's summary. The subscription lives on the
 * role's connection and ends with its drain. Requests arriving while a reply is being built share it.
 */
export function answerStatusRequests(
  nc: NatsConnection,
  canvasId: string,
  role: StatusRole,
  logger?: Logger,
): Subscription {
  let building: Promise<Uint8Array> | null = null;
  return nc.subscribe(statusSubject(canvasId), {
    callback: (error, message) => {
      if (error !== null || !message.reply) return;
      building ??= buildReply(role).finally(() => (building = null));
      building.then(
        (reply) => {
          if (reply.length > MAX_STATUS_REPLY_BYTES) {
            logger?.warn({ bytes: reply.length }, 'status summary too large; not answered');
            return;
          }
          message.respond(reply);
        },
        (cause: unknown) => logger?.warn({ err: cause }, 'status summary failed'),
      );
    },
  });
}

export interface StatusReplies {
  readonly waitedMs: number;
  readonly answered: RoleSummary[];
  readonly unreadable: number;
}

/**
 * Sends one status request and collects every reply that arrives within `waitMs`. A canvas with no
 * role running answers nothing (NATS reports "no responders" at once): an empty list, not an error.
 */
export async function requestRoleStatus(nc: NatsConnection, canvasId: string, waitMs: number): Promise<StatusReplies> {
  const answered: RoleSummary[] = [];
  let unreadable = 0;
  try {
    const replies = await nc.requestMany(statusSubject(canvasId), Empty, { strategy: 'timer', maxWait: waitMs });
    for await (const reply of replies) {
      if (reply.data.length > MAX_STATUS_REPLY_BYTES) {
        unreadable++;
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(reply.data));
      } catch {
        unreadable++;
        continue;
      }
      const parsed = RoleSummary.safeParse(json);
      if (parsed.success) answered.push(parsed.data);
      else unreadable++;
    }
  } catch (error) {
    if (!(error instanceof NoRespondersError)) throw error;
  }
  return { waitedMs: waitMs, answered, unreadable };
}
