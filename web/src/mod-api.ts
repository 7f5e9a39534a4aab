/**
 * The moderator API (`/api/v1/mod/…`, src/app/moderation/routes.ts) as typed calls. Every POST carries
 * `X-Rplace-Csrf: 1`; every refusal becomes a `ModApiError` with the server's message.
 */
import type { RollbackApplied } from '../../proto/mod-api.ts';

export interface Region {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A region, a user (their placements anywhere), or both. */
export interface Selection {
  readonly region?: Region;
  readonly since: number;
  readonly until?: number;
  readonly user?: string;
}

export interface Placer {
  readonly userId: string;
  readonly username: string | null;
  readonly placements: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface SurveyResult {
  readonly users: readonly Placer[];
  readonly userCount: number;
  readonly placements: number;
  readonly pixels: number;
  readonly region: Region;
}

export interface PreviewResult {
  readonly region: Region;
  readonly pixels: number;
  readonly matchedEvents: number;
  readonly beforePng: string;
  readonly afterPng: string;
}

export type ApplyResult = RollbackApplied;

export type AuditEntry =
  | {
      readonly kind: 'rollback';
      readonly rollbackId: string;
      readonly moderatorId: string;
      readonly moderator: string | null;
      readonly pixels: number;
      readonly firstAt: number;
    }
  | {
      readonly kind: 'action';
      readonly action: string;
      readonly moderatorId: string;
      readonly moderator: string | null;
      readonly targetId: string;
      readonly target: string | null;
      readonly at: number;
    };

export class ModApiError extends Error {
  override readonly name = 'ModApiError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/v1/mod/${path}`, {
    method,
    credentials: 'include',
    ...(method === 'POST'
      ? { headers: { 'x-rplace-csrf': '1', 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : {}),
  });
  const json = (await res.json().catch(() => ({}))) as { message?: string };
  if (!res.ok) throw new ModApiError(res.status, json.message ?? `failed (${res.status})`);
  return json as T;
}

/** A fresh key per confirmed action: a double click or a retry of it sends the same one. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export const modApi = {
  /** `true` for a moderator; `false` on 403 (players, guests) or 404 (no accounts on this server). */
  async isModerator(): Promise<boolean> {
    try {
      await call('GET', 'me');
      return true;
    } catch {
      return false;
    }
  },
  survey: (s: Selection) => call<SurveyResult>('POST', 'survey', s),
  preview: (s: Selection) => call<PreviewResult>('POST', 'preview', s),
  apply: (selection: Selection, idempotencyKey: string) =>
    call<ApplyResult>('POST', 'apply', { selection, idempotencyKey }),
  ban: (user: string, mode: 'ban' | 'shadow', idempotencyKey: string) =>
    call<{ repeated: boolean }>('POST', 'ban', { user, mode, idempotencyKey }),
  unban: (user: string, idempotencyKey: string) => call<{ lifted: boolean }>('POST', 'unban', { user, idempotencyKey }),
  audit: (limit = 50) => call<{ entries: AuditEntry[] }>('GET', `audit?limit=${limit}`),
};
