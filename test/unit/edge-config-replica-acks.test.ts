/** COOLDOWN_REPLICA_ACKS / COOLDOWN_REPLICA_WAIT_MS: off by default, bounded, refused with the variable named. */
import { describe, expect, it } from 'vitest';
import { edgeSchema } from '../../src/config/edge.ts';

const base = { SESSION_SECRET: 'x'.repeat(32) };

describe('edge config: cooldown replica acks', () => {
  it('given nothing set, when parsed, then acks are off with a 50 ms wait', () => {
    const c = edgeSchema.parse(base);
    expect(c.COOLDOWN_REPLICA_ACKS).toBe(0);
    expect(c.COOLDOWN_REPLICA_WAIT_MS).toBe(50);
  });

  it('given 1 and 20 ms, when parsed, then they are numbers', () => {
    const c = edgeSchema.parse({ ...base, COOLDOWN_REPLICA_ACKS: '1', COOLDOWN_REPLICA_WAIT_MS: '20' });
    expect([c.COOLDOWN_REPLICA_ACKS, c.COOLDOWN_REPLICA_WAIT_MS]).toEqual([1, 20]);
  });

  it.each([
    ['COOLDOWN_REPLICA_ACKS', '-1'],
    ['COOLDOWN_REPLICA_ACKS', '17'],
    ['COOLDOWN_REPLICA_ACKS', 'yes'],
    ['COOLDOWN_REPLICA_WAIT_MS', '0'],
    ['COOLDOWN_REPLICA_WAIT_MS', '1001'],
  ])('given %s=%s, when parsed, then it is refused naming the variable', (name, value) => {
    const r = edgeSchema.safeParse({ ...base, [name]: value });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(name);
  });
});
