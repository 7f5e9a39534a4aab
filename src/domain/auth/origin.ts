/**
 * Origin checks for the WebSocket upgrade and CSRF protection for state-changing HTTP calls.
 *
 * - An origin is allowed when it is in `ALLOWED_ORIGINS`, or when it is the server's own origin (its host
 *   equals the request's `Host`), which is what a page served by the edge itself sends.
 * - A state-changing call must carry the header `X-Rplace-Csrf: 1`. A cross-site page cannot add a custom
 *   header without a CORS preflight, which the edge never grants; and when the browser sends `Origin` it
 *   must be allowed too (defence in depth). Requests with no `Origin` come from non-browser clients, which
 *   hold no victim's cookie, so the header alone suffices for them.
 */
export const CSRF_HEADER = 'x-rplace-csrf';

export interface OriginPolicy {
  /** Exact origins (`scheme://host[:port]`), lower-cased. */
  readonly allowed: ReadonlySet<string>;
}

export function originPolicy(allowedOrigins: readonly string[]): OriginPolicy {
  return {
    allowed: new Set(allowedOrigins.map((o) => o.trim().toLowerCase().replace(/\/+$/, '')).filter((o) => o.length > 0)),
  };
}

export function isOriginAllowed(policy: OriginPolicy, origin: string, host: string | undefined): boolean {
  const normalised = origin.toLowerCase();
  if (policy.allowed.has(normalised)) return true;
  if (host === undefined) return false;
  try {
    const url = new URL(normalised);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** `null` when the upgrade may proceed, otherwise why not. A missing Origin (non-browser client) is allowed. */
export function checkUpgradeOrigin(policy: OriginPolicy, headers: Readonly<Record<string, string>>): string | null {
  const origin = headers['origin'];
  if (origin === undefined || origin === '') return null;
  return isOriginAllowed(policy, origin, headers['host']) ? null : `origin ${origin.slice(0, 100)} is not allowed`;
}

/** `null` when the state-changing request may proceed, otherwise why not. */
export function checkCsrf(policy: OriginPolicy, headers: Readonly<Record<string, string>>): string | null {
  if (headers[CSRF_HEADER] !== '1') return `state-changing requests must send the header ${CSRF_HEADER}: 1`;
  return checkUpgradeOrigin(policy, headers);
}
