/**
 * Who a request or connection acts as. Implemented by src/adapters/identity/guest-cookie.ts (guests) and by
 * the accounts' session cookie (src/roles/edge/accounts.ts wires it).
 */

/** Who a request or connection acts as. */
export interface Identity {
  readonly userId: string;
  readonly isGuest: boolean;
}

/**
 * Identifies the caller from request headers (cookies), for WebSocket upgrades and HTTP routes. The guest
 * implementation mints a signed guest cookie; accounts replace it without touching the protocol.
 * `setCookie`, when present, must be sent back (`Set-Cookie`) so the identity survives a reload.
 * `minted` is true when the identity was made by this call: nothing (no cooldown) is stored under it yet.
 * Resolves `null` when the request carries no acceptable identity and none may be minted.
 */
export interface IdentityProvider {
  identify(
    headers: Readonly<Record<string, string>>,
  ): Promise<{ readonly identity: Identity; readonly setCookie?: string; readonly minted?: boolean } | null>;
}
