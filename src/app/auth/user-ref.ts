/**
 * A user named by a moderator or a query: a username when an account has it, else a user id as this
 * product makes them (`u_…` accounts, `g_…` guests). One rule for the moderator API and the user history.
 */
import type { UserStore } from '../../ports/auth.ts';

const USER_ID = /^[ug]_[A-Za-z0-9_-]{1,62}$/;

/** The user id `user` names, or null when it names nobody this product could have made. */
export async function userIdOf(users: Pick<UserStore, 'findByUsername'>, user: string): Promise<string | null> {
  const account = await users.findByUsername(user);
  if (account !== null) return account.userId;
  return USER_ID.test(user) ? user : null;
}
