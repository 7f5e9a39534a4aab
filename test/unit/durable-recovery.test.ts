import { describe, expect, it } from 'vitest';
import { DurableRecovery } from '../../src/domain/stall-detector.ts';

describe('DurableRecovery', () => {
  it('re-uses the durable until a session stalls twice in a row at the same sequence', () => {
    const recovery = new DurableRecovery();
    expect(recovery.shouldReplace(10)).toBe(false);
    recovery.ended(10, true);
    expect(recovery.shouldReplace(10)).toBe(false);
    recovery.ended(10, true);
    expect(recovery.shouldReplace(10)).toBe(true);
  });

  it('does not count stalls at different sequences, or a session that ended without one', () => {
    const recovery = new DurableRecovery();
    recovery.ended(10, true);
    recovery.ended(11, true);
    expect(recovery.shouldReplace(11)).toBe(false);
    recovery.ended(11, false);
    recovery.ended(11, true);
    expect(recovery.shouldReplace(11)).toBe(false);
  });

  it('replaces after three failed set-ups in a row; a session in between resets the count', () => {
    const recovery = new DurableRecovery();
    recovery.failed();
    recovery.failed();
    expect(recovery.shouldReplace(5)).toBe(false);
    recovery.ended(5, false);
    recovery.failed();
    recovery.failed();
    expect(recovery.shouldReplace(5)).toBe(false);
    recovery.failed();
    expect(recovery.shouldReplace(5)).toBe(true);
  });
});
