/**
 * The log's contract, run against the in-memory fake (test/unit/event-log-fake.contract.test.ts) and
 * against JetStream (test/integration/event-log.contract.test.ts): what `EventLog`, `EventStream` and
 * `ModerationLog` promise the use cases, over ONE stream. place-pixel relies on the sequence and on the
 * duplicate answer carrying the original sequence; the projections on ordered, gap-free reads and the
 * `untilSeq` clamp; moderation on expected-last-sequence conflicts that store nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventKind, type CanvasEvent } from '../../proto/event-codec.ts';
import type { ModerationLog } from '../../src/ports/moderation.ts';
import type { EventLog, EventStream, StoredEvent } from '../../src/ports/event-log.ts';

/** One fresh, empty stream seen through the three ports; `close` removes it. */
export interface LogSubject {
  readonly log: EventLog;
  readonly stream: EventStream;
  readonly moderation: ModerationLog;
  close(): Promise<void>;
}

/** The canvas every subject's readers check events against. */
export const CONTRACT_CANVAS = { width: 64, height: 64, colors: 32 } as const;

let n = 0;
export function placed(x: number, y: number, color: number, userId = 'u1'): CanvasEvent {
  return { kind: EventKind.PixelPlaced, x, y, color, userId, requestId: `r${++n}`, placedAt: Date.now() };
}
function restored(x: number, y: number, color: number): CanvasEvent & { kind: typeof EventKind.PixelRestored } {
  return { kind: EventKind.PixelRestored, x, y, color, userId: 'mod', requestId: 'rb1', placedAt: Date.now() };
}

async function readAll(stream: EventStream, fromSeq: number, untilSeq?: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of stream.read(fromSeq, untilSeq === undefined ? {} : { untilSeq })) out.push(...batch);
  return out;
}

export function eventLogContract(label: string, open: () => Promise<LogSubject>): void {
  describe(`event log contract: ${label}`, () => {
    let s: LogSubject;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => s.close());

    it('numbers events from 1 without gaps, and lastSeq follows', async () => {
      expect(await s.stream.lastSeq()).toBe(0);
      const seqs = [];
      for (let i = 0; i < 5; i++) seqs.push((await s.log.append(placed(i, 0, i), `id-${i}`)).seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
      expect(await s.stream.lastSeq()).toBe(5);
    });

    it('a message id seen before is not stored again: the answer is the ORIGINAL sequence, marked duplicate', async () => {
      const first = await s.log.append(placed(1, 1, 1), 'u1/req-a');
      await s.log.append(placed(2, 2, 2), 'u1/req-b');
      const again = await s.log.append(placed(1, 1, 1), 'u1/req-a');
      expect(first).toEqual({ seq: 1, duplicate: false });
      expect(again).toEqual({ seq: 1, duplicate: true });
      expect(await s.stream.lastSeq()).toBe(2);
      // The id decides, not the content: the same event under another id is a new event.
      expect(await s.log.append(placed(1, 1, 1), 'u1/req-c')).toEqual({ seq: 3, duplicate: false });
    });

    it('reads back every event in order, decoded field for field, with the time the log stored it', async () => {
      const before = Date.now();
      const events = [placed(0, 0, 1), placed(63, 63, 31, 'someone-else'), restored(5, 6, 7)];
      for (const [i, e] of events.entries()) await s.log.append(e, `id-${i}`);
      const after = Date.now();
      const read = await readAll(s.stream, 1, 3);
      expect(read.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(read.map((r) => r.event)).toEqual(events);
      for (const r of read) {
        expect(r.storedAt).toBeGreaterThanOrEqual(before - 1000); // the server's clock, same machine
        expect(r.storedAt).toBeLessThanOrEqual(after + 1000);
      }
    });

    it('a bounded read is clamped to the last sequence at call time, and empty past it', async () => {
      for (let i = 0; i < 4; i++) await s.log.append(placed(i, 1, 1), `id-${i}`);
      expect((await readAll(s.stream, 2, 100)).map((r) => r.seq)).toEqual([2, 3, 4]);
      expect(await readAll(s.stream, 5, 100)).toEqual([]);
      expect((await readAll(s.stream, 0, 2)).map((r) => r.seq)).toEqual([1, 2]); // from below 1 starts at 1
    });

    it('a bounded read of an empty stream ends at once', async () => {
      expect(await readAll(s.stream, 1, 10)).toEqual([]);
    });

    it('an unbounded read follows the stream live until its signal aborts', async () => {
      await s.log.append(placed(0, 0, 1), 'id-0');
      const controller = new AbortController();
      const seen: number[] = [];
      const reading = (async () => {
        for await (const batch of s.stream.read(1, { signal: controller.signal }))
          seen.push(...batch.map((b) => b.seq));
      })();
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1]);
      await s.log.append(placed(1, 0, 1), 'id-1');
      await s.log.append(placed(2, 0, 1), 'id-2');
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1, 2, 3]);
      controller.abort();
      await reading;
    });

    it('a read whose signal aborts while it starts ends (read and readPixels)', async () => {
      await s.log.append(placed(0, 0, 1), 'id-0');
      for (const read of [s.stream.read.bind(s.stream), s.stream.readPixels.bind(s.stream)]) {
        const controller = new AbortController();
        const reading = (async () => {
          for await (const batch of read(1, { signal: controller.signal })) void batch;
        })();
        controller.abort();
        await expect(reading).resolves.toBeUndefined();
      }
    });

    it('readPixels yields the same sequences and pixels as read', async () => {
      const events = [placed(3, 4, 5), restored(6, 7, 8), placed(9, 10, 11)];
      for (const [i, e] of events.entries()) await s.log.append(e, `id-${i}`);
      const columns: { seq: number; x: number; y: number; color: number; sets: number }[] = [];
      for await (const b of s.stream.readPixels(1, { untilSeq: 3 })) {
        for (let i = 0; i < b.count; i++)
          columns.push({ seq: b.seqs[i]!, x: b.xs[i]!, y: b.ys[i]!, color: b.colors[i]!, sets: b.setsPixel[i]! });
      }
      expect(columns).toEqual(events.map((e, i) => ({ seq: i + 1, x: e.x, y: e.y, color: e.color, sets: 1 })));
    });

    it('an event the codec cannot encode is refused and nothing is stored', async () => {
      await expect(async () => s.log.append({ ...placed(0, 0, 0), userId: '' }, 'bad')).rejects.toThrow();
      expect(await s.stream.lastSeq()).toBe(0);
    });

    it('appendIfLast stores only while the last sequence is the expected one; a conflict stores nothing and says the last sequence', async () => {
      expect(await s.moderation.appendIfLast(restored(1, 1, 0), 'mod/rb1/1.1', 0)).toEqual({ ok: true, seq: 1 });
      await s.log.append(placed(2, 2, 2), 'someone');
      expect(await s.moderation.appendIfLast(restored(3, 3, 0), 'mod/rb1/3.3', 1)).toEqual({ ok: false, lastSeq: 2 });
      expect(await s.stream.lastSeq()).toBe(2);
      expect(await s.moderation.appendIfLast(restored(3, 3, 0), 'mod/rb1/3.3', 2)).toEqual({ ok: true, seq: 3 });
      const read = await readAll(s.stream, 1, 3);
      expect(read.map((r) => r.event.kind)).toEqual([
        EventKind.PixelRestored,
        EventKind.PixelPlaced,
        EventKind.PixelRestored,
      ]);
    });

    it('appendIfLast with a message id already stored answers its original sequence, even when the stream moved on', async () => {
      expect(await s.moderation.appendIfLast(restored(1, 1, 0), 'mod/rb1/1.1', 0)).toEqual({ ok: true, seq: 1 });
      await s.log.append(placed(2, 2, 2), 'someone');
      // A re-run of the same rollback within the duplicate window: deduplicated before the sequence check.
      expect(await s.moderation.appendIfLast(restored(1, 1, 0), 'mod/rb1/1.1', 2)).toEqual({ ok: true, seq: 1 });
      expect(await s.moderation.appendIfLast(restored(1, 1, 0), 'mod/rb1/1.1', 0)).toEqual({ ok: true, seq: 1 });
      expect(await s.stream.lastSeq()).toBe(2);
    });
  });
}
