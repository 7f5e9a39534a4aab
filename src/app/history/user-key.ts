/** The user ids an export publishes (issue 16): salted and hashed, or raw (src/domain/history/export-format.ts writes them). */
import { hash } from 'node:crypto';

/**
 * The published user id for `userId`: base64 of SHA-512(salt ‖ 0x00 ‖ userId), 88 characters like Reddit's,
 * stable for one salt (so one user's placements correlate) and not reversible without it. Not memoised here:
 * every caller already keeps each user's key once (the formatters' key slots, the Parquet encoder's keys by
 * interned index), and a second memo of 125,000 users cost ~0.9 µs per user in Map work (a CPU profile of the
 * export bench), ~40 % of making the key.
 */
export function saltedUserKey(salt: string): (userId: string) => string {
  const prefix = `${salt}\u0000`;
  return (userId) => hash('sha512', prefix + userId, 'base64');
}
