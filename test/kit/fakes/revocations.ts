/** `Revocations` that record what was sent, in order, for a test to assert on. */
import type { Revocations } from '../../../src/ports/auth.ts';

export type SentRevocation = { readonly session: string } | { readonly user: string };

export function createFakeRevocations(): Revocations & { readonly sent: SentRevocation[] } {
  const sent: SentRevocation[] = [];
  return {
    sent,
    async sessionEnded(sessionKey) {
      sent.push({ session: sessionKey });
    },
    async userBanned(userId) {
      sent.push({ user: userId });
    },
  };
}
