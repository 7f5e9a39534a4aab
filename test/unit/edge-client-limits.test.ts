import { describe, expect, it } from 'vitest';
import { EdgeClientLimits } from '../../src/domain/edge/client-limits.ts';
import { perMinute } from '../../src/domain/limits.ts';

const limits = {
  messages: { perSecond: 10, burst: 3 },
  resyncsPerSocket: perMinute(2),
  resyncsPerIp: perMinute(3),
  maxUnreadResponsesPerIp: 8,
};

describe('edge client limits', () => {
  it("given a socket's burst of messages, refuses the next until one refills", () => {
    const rates = new EdgeClientLimits(limits);
    const socket = rates.socket();
    expect([0, 0, 0, 0].map((t) => rates.message(socket, t))).toEqual([true, true, true, false]);
    expect(rates.message(socket, 100)).toBe(true); // 10 a second: one per 100 ms
  });

  it('charges whole-canvas sends to the socket first, then to its address, and says which refused and for how long', () => {
    const rates = new EdgeClientLimits(limits);
    const a = rates.socket();
    const b = rates.socket();
    expect([rates.resync(a, 'ip1', 0), rates.resync(a, 'ip1', 0)]).toEqual([null, null]);
    expect(rates.resync(a, 'ip1', 0)).toEqual({ limit: 'ws_resyncs_per_socket', retryAfterMs: 30_000 });
    expect(rates.resync(b, 'ip1', 0)).toBeNull(); // the address's third
    expect(rates.resync(b, 'ip1', 0)).toEqual({ limit: 'ws_resyncs_per_ip', retryAfterMs: 20_000 });
    expect(rates.resync(rates.socket(), 'ip2', 0)).toBeNull(); // another address has its own
    expect(rates.resync(rates.socket(), '', 0)).toBeNull(); // no address known: only the socket's own budget
  });

  it('holds no bucket until one is used, and a socket first used late has its whole burst, as one made full at its open would', () => {
    const rates = new EdgeClientLimits(limits);
    const socket = rates.socket();
    expect(socket).toEqual({ messages: null, resyncs: null });
    expect([1, 2, 3, 4].map(() => rates.message(socket, 60_000))).toEqual([true, true, true, false]);
    expect(socket.resyncs).toBeNull(); // messages do not make the resync bucket
    expect(rates.message(socket, 60_100)).toBe(true); // refills from the first use on
  });
});
