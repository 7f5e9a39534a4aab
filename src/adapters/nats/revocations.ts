/**
 * Telling every edge to close sockets, over core NATS (fire-and-forget; a socket whose session is gone
 * also fails its next placement, so a lost message only delays the close).
 *
 * Subject: `rplace-ctl.<canvas>.revoke` — deliberately OUTSIDE `rplace.<canvas>.>`, the canvas stream's
 * subjects, so control messages never land in the event log. Payload JSON, at most 256 bytes:
 * `{ "session": "<sessionKey>" }` (logout: close that session's sockets) or `{ "user": "<userId>" }`
 * (ban: close all of the user's sockets).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import type { Revocations } from '../../app/auth/ports.ts';

export const MAX_REVOCATION_BYTES = 256;

export function revocationSubject(canvasId: string): string {
  return `rplace-ctl.${canvasId}.revoke`;
}

const Revocation = z.union([z.strictObject({ session: z.string().min(1).max(64) }), z.strictObject({ user: z.string().min(1).max(64) })]);
export type Revocation = z.infer<typeof Revocation>;

export function createNatsRevocations(nc: NatsConnection, canvasId: string): Revocations {
  const subject = revocationSubject(canvasId);
  return {
    async sessionEnded(sessionKey) {
      nc.publish(subject, JSON.stringify({ session: sessionKey }));
      await nc.flush();
    },
    async userBanned(userId) {
      nc.publish(subject, JSON.stringify({ user: userId }));
      await nc.flush();
    },
  };
}

/** Calls `onRevocation` for every well-formed revocation; malformed or oversized messages are ignored. */
export function subscribeRevocations(nc: NatsConnection, canvasId: string, onRevocation: (revocation: Revocation) => void): Subscription {
  return nc.subscribe(revocationSubject(canvasId), {
    callback: (error, message) => {
      if (error !== null || message.data.length > MAX_REVOCATION_BYTES) return;
      try {
        const parsed = Revocation.safeParse(JSON.parse(new TextDecoder().decode(message.data)));
        if (parsed.success) onRevocation(parsed.data);
      } catch {
        // not JSON: ignored
      }
    },
  });
}
