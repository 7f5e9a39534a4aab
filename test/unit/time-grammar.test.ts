/**
 * The one time grammar (src/domain/time.ts `parseTime`), which replaced two parsers: the history API's
 * (wire: ISO with a zone or epoch ms) and the CLI's (also ages, 16-digit ms and `Date.parse` dates). The two
 * old parsers are kept here, verbatim, as oracles: on every input below the new one answers exactly what the
 * old one of the same grammar answered, so no input that was accepted is refused, nor the other way round.
 */
import { describe, expect, it } from 'vitest';
import { isImpossibleDate, parseIsoTime, parseTime } from '../../src/domain/time.ts';

/** The history API's parser before the merge (src/app/history/routes.ts). */
const oldApiTime = (value: string): number | null => (/^\d{1,15}$/.test(value) ? Number(value) : parseIsoTime(value));

/** The CLI's parser before the merge (src/cli/commands/mod.ts), with its usage error as null. */
function oldCliTime(value: string, now: number): number | null {
  const age = /^(\d+)(s|m|h|d)$/.exec(value);
  if (age)
    return now - Number(age[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const parsed = parseIsoTime(value) ?? (isImpossibleDate(value) ? Number.NaN : Date.parse(value));
  return Number.isNaN(parsed) ? null : parsed;
}

const NOW = Date.UTC(2026, 3, 1, 12);

const SAMPLES = [
  '2026-04-01T12:00:00Z',
  '2026-04-01T14:00:00.5+02:00',
  '2026-04-01T12:00Z',
  '2026-04-01T12:00:00.123456-0130',
  '2024-02-29T00:00:00Z',
  '2026-02-29T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-04-01T24:00:00Z',
  '2026-04-01T12:60:00Z',
  '2026-04-01T12:00:00+24:00',
  '2026-04-01',
  '2026-04-01T12:00:00',
  '2026-04-01 12:00',
  '2026-02-30',
  'April 1, 2026',
  'Wed, 01 Apr 2026 12:00:00 GMT',
  'yesterday',
  '',
  ' ',
  '-5',
  '+5',
  '1.5',
  '1e12',
  '0',
  '1700000000000',
  '999999999999999',
  '1000000000000000',
  '9999999999999999',
  '10000000000000000',
  '30s',
  '15m',
  '2h',
  '7d',
  '0m',
  '30',
  '30x',
  '1w',
  'm',
  '30 m',
  '2026-04-01T12:00:00z',
  '２０２６',
];

describe('parseTime', () => {
  it('the wire grammar answers what the history API parser answered, on every sample', () => {
    for (const value of SAMPLES) expect(parseTime(value), value).toBe(oldApiTime(value));
  });

  it('the human grammar answers what the CLI parser answered, on every sample', () => {
    for (const value of SAMPLES) expect(parseTime(value, { human: { now: NOW } }), value).toBe(oldCliTime(value, NOW));
  });

  it('agrees with both old parsers on random digit strings, ages and ISO-like times', () => {
    let seed = 12;
    const rand = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    for (let i = 0; i < 3_000; i++) {
      const kind = rand(3);
      const value =
        kind === 0
          ? String(rand(10 ** 9))
              .repeat(1 + rand(3))
              .slice(0, 1 + rand(18))
          : kind === 1
            ? `${rand(1_000)}${'smhdx'[rand(5)]}`
            : `${pad(1990 + rand(60), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}${['T', ' ', ''][rand(3)]}${pad(rand(26), 2)}:${pad(rand(62), 2)}${['Z', '+02:00', '-0530', ''][rand(4)]}`;
      expect(parseTime(value), value).toBe(oldApiTime(value));
      expect(parseTime(value, { human: { now: NOW } }), value).toBe(oldCliTime(value, NOW));
    }
  });

  it('states the grammar: wire takes zoned ISO and ≤15-digit ms only; human adds ages, 16 digits and real dates', () => {
    expect(parseTime('2026-04-01T14:00:00+02:00')).toBe(NOW);
    expect(parseTime('1775044800000')).toBe(NOW);
    for (const wireRefuses of [
      '30m',
      '2026-04-01',
      '2026-04-01T12:00:00',
      '1000000000000000',
      '2026-02-30T00:00:00Z',
    ]) {
      expect(parseTime(wireRefuses), wireRefuses).toBeNull();
    }
    const human = (v: string) => parseTime(v, { human: { now: NOW } });
    expect(human('30m')).toBe(NOW - 30 * 60_000);
    expect(human('7d')).toBe(NOW - 7 * 86_400_000);
    expect(human('1000000000000000')).toBe(1e15);
    expect(human('2026-04-01')).toBe(Date.UTC(2026, 3, 1));
    for (const humanRefuses of ['2026-02-30', '2026-02-30T00:00:00Z', 'yesterday', '1w', ''])
      expect(human(humanRefuses), humanRefuses).toBeNull();
  });
});
