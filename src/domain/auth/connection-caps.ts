/**
 * Per-IP cap on concurrent WebSocket connections, per edge. Counted from the upgrade (not the open), so a
 * burst of parallel upgrades from one address cannot all slip past the check before any of them opens;
 * `release` runs exactly once per successful `acquire` (refused, aborted or closed). Memory is bounded
 * by the connections themselves: an address with no connection has no entry.
 *
 * Per edge rather than global: a global count in Redis leaks when an edge dies, and a load balancer
 * spreading one address over N edges multiplies the cap by at most N.
 */
export class ConnectionCaps {
  readonly #perIp: number;
  readonly #counts = new Map<string, number>();

  constructor(perIp: number) {
    this.#perIp = perIp;
  }

  /** Takes a slot for `ip`; false when the address already holds `perIp` connections. */
  acquire(ip: string): boolean {
    const n = this.#counts.get(ip) ?? 0;
    if (n >= this.#perIp) return false;
    this.#counts.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = this.#counts.get(ip) ?? 0;
    if (n <= 1) this.#counts.delete(ip);
    else this.#counts.set(ip, n - 1);
  }

  count(ip: string): number {
    return this.#counts.get(ip) ?? 0;
  }
}
