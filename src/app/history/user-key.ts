/** The user ids an export publishes (issue 16): salted and hashed, or raw (src/domain/history/export-format.ts writes them). */
import { hash } from 'node:crypto';

/**
 * The published user id for `userId`: base64 of SHA-512(salt ‖ 0x00 ‖ userId), 88 characters like Reddit's,
 * stable for one salt (so one user's placements correlate) and not reversible without it. Results are
 * memoised up to `cacheEntries` distinct ids (then the memo starts afresh): users place many times.
 */
export function saltedUserKey(salt: string, cacheEntries = 1_000_000): (userId: string) => string {
  let memo = new Map<string, string>();
  const prefix = `${salt}\u0000`;
  return (userId) => {
    let key = memo.get(userId);
    if (key === undefined) {
      key = hash('sha512', prefix + userId, 'base64');
      if (memo.size >= cacheEntries) memo = new Map();
      memo.set(userId, key);
    }
    return key;
  };
}
