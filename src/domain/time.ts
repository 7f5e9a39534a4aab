/**
 * Times given by people and clients: ISO 8601 with a zone, checked against the calendar. `Date.parse`
 * alone accepts `2026-02-30T00:00:00Z` (V8 rolls it over to 2 March), so every part is range-checked first.
 */

const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;
const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** [year, month, day, hour?, minute?, second?, zone hours?, zone minutes?] as matched; absent parts count as 0. */
function realParts(parts: readonly (string | undefined)[]): boolean {
  const n = (i: number) => Number(parts[i] ?? 0);
  const [y, mo, d] = [n(0), n(1), n(2)];
  return (
    mo >= 1 &&
    mo <= 12 &&
    d >= 1 &&
    d <= daysIn(y, mo) &&
    n(3) <= 23 &&
    n(4) <= 59 &&
    n(5) <= 59 &&
    n(6) <= 23 &&
    n(7) <= 59
  );
}

/** ms since the epoch of an ISO 8601 time with a zone (`Z` or `±hh:mm`), or null if malformed or not a real date and time. */
export function parseIsoTime(value: string): number | null {
  const match = ISO_WITH_ZONE.exec(value);
  if (!match || !realParts(match.slice(1))) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** True when `value` starts like a date (`YYYY-MM-DD`, optionally a time) whose month, day or time does not exist. */
export function isImpossibleDate(value: string): boolean {
  const match = DATE_PREFIX.exec(value);
  return match !== null && !realParts(match.slice(1));
}

/** Which inputs `parseTime` accepts besides the wire grammar. */
export interface TimeGrammar {
  /**
   * A person at a terminal (the CLI), measured from `now`: also ages (`30s`, `15m`, `2h`, `7d` before `now`),
   * 16-digit epoch ms, and whatever `Date.parse` reads that is a real date (`2026-04-01` as UTC midnight,
   * `2026-04-01 12:00` in local time). Never for HTTP: a time without a zone means different instants to
   * different servers.
   */
  readonly human?: { readonly now: number };
}

const AGE = /^(\d+)(s|m|h|d)$/;
const AGE_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The one time grammar (HTTP query parameters and the CLI). Wire: ISO 8601 with a zone (`Z` or `±hh:mm`)
 * naming a real date and time, or integer ms since the epoch (1–15 digits: every instant a `Date` holds up
 * to year 33658, so no 16-digit value can overflow one). With `human`, also the inputs `TimeGrammar` lists.
 * Returns ms since the epoch, or null when the input is not a time of the grammar.
 */
export function parseTime(value: string, grammar: TimeGrammar = {}): number | null {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const iso = parseIsoTime(value);
  if (iso !== null || grammar.human === undefined) return iso;
  const age = AGE.exec(value);
  if (age) return grammar.human.now - Number(age[1]) * AGE_MS[age[2] as keyof typeof AGE_MS];
  if (/^\d{16}$/.test(value)) return Number(value);
  const parsed = isImpossibleDate(value) ? Number.NaN : Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}
