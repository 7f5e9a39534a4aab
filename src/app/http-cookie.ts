/**
 * Reading one cookie out of a `Cookie` request header, for every identity (the guest cookie, the session
 * cookie). Pure and bounded: a header longer than `MAX_COOKIE_HEADER` is not parsed at all (browsers cap a
 * cookie at 4 KiB and the shipped nginx a header line at 8 KiB), so a hostile header costs at most one
 * length check; malformed pairs (no `=`, empty name) are skipped, never thrown on.
 */

/** Cookie headers longer than this (characters) are not parsed. */
export const MAX_COOKIE_HEADER = 8192;

/** The value of the first cookie named `name` (trimmed, as sent), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
