/**
 * The projection-source contract (fake and the durable JetStream consumer): what the projections rely on.
 * Delivery starts exactly at `fromSeq`, is in order and follows the stream live; a batch whose handler
 * rejects is delivered again with nothing lost or duplicated among the handled sequences; `ProjectionHalted`
 * ends `run` with that error; an aborted signal ends `run`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectionHalted } from '../../src/ports/errors.ts';
import type { EventLog, ProjectionSource, StoredEvent } from '../../src/ports/event-log.ts';
import { placed } from './event-log.contract.ts';

export interface SourceSubject {
  /** A source on a fresh stream, for one projection. */
  readonly source: ProjectionSource;
  readonly log: EventLog;
  close(): Promise<void>;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function projectionSourceContract(label: string, open: () => Promise<SourceSubject>): void {
  describe(`projection source contract: ${label}`, () => {
    let s: SourceSubject;
    const append = async (count: number, from = 0) => {
      for (let i = 0; i < count; i++) await s.log.append(placed((from + i) % 64, 0, 1), `ps-${from + i}`);
    };
    /** Handled sequences, until `enough` of them, then aborts; a safety abort after 20 s. */
    async function run(
      fromSeq: number,
      enough: number,
      handle: (batch: readonly StoredEvent[]) => Promise<void> = async () => undefined,
    ) {
      const controller = new AbortController();
      const safety = setTimeout(() => controller.abort(), 20_000);
      const seqs: number[] = [];
      await s.source.run(
        fromSeq,
        async (batch) => {
          await handle(batch);
          seqs.push(...batch.map((e) => e.seq));
          if (seqs.length >= enough) controller.abort();
        },
        controller.signal,
      );
      clearTimeout(safety);
      return seqs;
    }
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => s.close());

    it('delivers from fromSeq, in order', async () => {
      await append(30);
      expect(await run(11, 20)).toEqual(range(11, 30));
    });

    it('follows the stream live', async () => {
      await append(5);
      const handled = run(1, 15);
      await append(10, 5);
      expect(await handled).toEqual(range(1, 15));
    });

    it('redelivers a batch whose handler rejected, losing and duplicating nothing', async () => {
      await append(20);
      let failures = 0;
      const seqs = await run(1, 20, async (batch) => {
        if (failures < 2 && batch.some((e) => e.seq >= 10)) {
          failures++;
          throw new Error('the store is down for a moment');
        }
      });
      expect(failures).toBe(2);
      expect(seqs).toEqual(range(1, 20));
    });

    it('ProjectionHalted ends run with that error', async () => {
      await append(3);
      const halted = new ProjectionHalted('a permanent failure', 2);
      const controller = new AbortController();
      const safety = setTimeout(() => controller.abort(), 20_000);
      const outcome = await s.source
        .run(
          1,
          async (batch) => {
            if (batch.some((e) => e.seq >= 2)) throw halted;
          },
          controller.signal,
        )
        .then(
          () => 'returned',
          (e: unknown) => e,
        );
      clearTimeout(safety);
      expect(outcome).toBe(halted);
    });

    it('an aborted signal ends run', async () => {
      const controller = new AbortController();
      const running = s.source.run(1, async () => undefined, controller.signal);
      controller.abort();
      await expect(running).resolves.toBeUndefined();
    });
  });
}
