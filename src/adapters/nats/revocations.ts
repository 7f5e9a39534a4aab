/**
 * Telling every edge to close sockets, over core NATS (fire-and-forget; a socket whose session is gone
 * also fails its next placement, so a lost message only delays the close).
 *
 * Subjects (names.ts `control`), deliberately OUTSIDE `rplace.<canvas>.>`, the canvas stream's subjects, so
 * control messages never land in the event log; one per writer, so NATS permissions decide who may send
 * which (streams/permissions.ts):
 * - `rplace-ctl.<canvas>.revoke.session` `{ "session": "<sessionKey>" }`: an edge logged that session out
 *   (any edge may: the session's sockets can sit on every edge);
 * - `rplace-ctl.<canvas>.revoke.user` `{ "user": "<userId>" }`: the operator banned the user (`rplace mod
 *   ban`); no edge or projector identity may publish it.
 * Payload JSON, at most 256 bytes; a payload that does not match its subject's kind is ignored.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import type { Revocations } from '../../ports/auth.ts';
import { namesFor } from '../../domain/names.ts';

export const MAX_REVOCATION_BYTES = 256;

/** The wildcard every edge listens on (both kinds). */
export function revocationSubject(canvasId: string): string {
  return namesFor(canvasId).control.revokeAll;
}

const SessionRevocation = z.strictObject({ session: z.string().min(1).max(64) });
const UserRevocation = z.strictObject({ user: z.string().min(1).max(64) });
export type Revocation = z.infer<typeof SessionRevocation> | z.infer<typeof UserRevocation>;

/** Revocations as an edge sends them: a logout's session only (`userBanned` is the operator's). */
export function createNatsRevocations(nc: NatsConnection, canvasId: string): Revocations {
  const control = namesFor(canvasId).control;
  return {
    async sessionEnded(sessionKey) {
      nc.publish(control.revokeSession, JSON.stringify({ session: sessionKey }));
      await nc.flush();
    },
    async userBanned(userId) {
      nc.publish(control.revokeUser, JSON.stringify({ user: userId }));
      await nc.flush();
    },
  };
}

/** Calls `onRevocation` for every well-formed revocation; malformed, oversized or mis-filed messages are ignored. */
export function subscribeRevocations(
  nc: NatsConnection,
  canvasId: string,
  onRevocation: (revocation: Revocation) => void,
): Subscription {
  const control = namesFor(canvasId).control;
  return nc.subscribe(control.revokeAll, {
    callback: (error, message) => {
      if (error !== null || message.data.length > MAX_REVOCATION_BYTES) return;
      const schema =
        message.subject === control.revokeSession
          ? SessionRevocation
          : message.subject === control.revokeUser
            ? UserRevocation
            : null;
      if (schema === null) return;
      try {
        const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(message.data)));
        if (parsed.success) onRevocation(parsed.data);
      } catch {
        // not JSON: ignored
      }
    },
  });
}
