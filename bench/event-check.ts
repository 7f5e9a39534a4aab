/**
 * `npm run bench -- event-check [--events 1000000] [--rounds 5]`
 *
 * The per-event cost of the one check every stream reader makes (`checkStoredEvent`: layout, kind, ids'
 * UTF-8, canvas bounds, palette, time against the stored timestamp, kind against subject) next to the
 * layout-only check readers made before it (`checkEvent`), in the same run on the same encoded events
 * (typical ids: 12-byte user, 16-byte request), interleaved round by round. Prints ns per event for each,
 * the best round of each, and their ratio. Pure CPU: no services.
 */
import { parseArgs } from 'node:util';
import { checkEvent, checkStoredEvent, encodeEvent, EventKind, SubjectClass } from '../proto/event-codec.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const bounds = { width: 2000, height: 2000, colors: 32 };
const now = Date.now();
const DISTINCT = 4096;
const events = Array.from({ length: DISTINCT }, (_, i) =>
  encodeEvent({
    kind: EventKind.PixelPlaced,
    x: (i * 7919) % 2000,
    y: (i * 104_729) % 2000,
    color: i % 32,
    userId: `user${String(i).padStart(8, '0')}`,
    requestId: `req-${String(i).padStart(12, '0')}`,
    placedAt: now - (i % 1000),
  }),
);

let sink = 0;
function time(check: (bytes: Uint8Array) => number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) sink += check(events[i & (DISTINCT - 1)] as Uint8Array);
  return Number(process.hrtime.bigint() - started) / EVENTS;
}

const layoutOnly = (bytes: Uint8Array) => checkEvent(bytes);
const full = (bytes: Uint8Array) => checkStoredEvent(bytes, bounds, now, SubjectClass.Placement);
time(layoutOnly); // warm-up of both paths
time(full);
const before: number[] = [];
const after: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  before.push(time(layoutOnly));
  after.push(time(full));
}
const best = (xs: number[]) => Math.min(...xs);
process.stdout.write(`event-check: ${EVENTS.toLocaleString('en')} events × ${ROUNDS} rounds (sink ${sink % 10})\n`);
process.stdout.write(
  `  checkEvent (layout only, the previous rule)  ${before.map((n) => n.toFixed(1)).join(' ')} ns/event, best ${best(before).toFixed(1)}\n`,
);
process.stdout.write(
  `  checkStoredEvent (the rule now)             ${after.map((n) => n.toFixed(1)).join(' ')} ns/event, best ${best(after).toFixed(1)}\n`,
);
process.stdout.write(
  `  ratio (best): ${(best(after) / best(before)).toFixed(2)}×, +${(best(after) - best(before)).toFixed(1)} ns per event\n`,
);
