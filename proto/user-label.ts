/**
 * How a user is named to other players, shared by the server (the history API's `username`) and the web
 * client (the header, the pixel info), so one guest is the same "Guest c42d4b" everywhere.
 */

/** Guest ids are minted by the edge as `g_` + 16 hex digits (src/adapters/identity/guest-cookie.ts). */
export function isGuestId(userId: string): boolean {
  return userId.startsWith('g_');
}

/**
 * The account's username when there is one; a guest as `Guest` + the last 6 characters of its id (short,
 * stable, and not the whole id that the cooldown is keyed by). `null` for an account whose name is unknown.
 */
export function userLabel(userId: string, username: string | null | undefined): string | null {
  if (username) return username;
  if (isGuestId(userId)) return `Guest ${userId.slice(-6)}`;
  return null;
}
