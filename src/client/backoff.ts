/**
 * The client's reconnect back-off: pure, so the schedule is tested without timers (the client owns the timer).
 */
export interface Backoff {
  /** The first retry after a drop waits at most this (random): at once, but a whole edge's clients spread out. */
  readonly firstMs?: number;
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly jitterMs?: number;
}

/**
 * How long to wait before reconnect attempt `attempt` (0 = right after the drop): 0–`firstMs` for the first,
 * then `initialMs` doubling up to `maxMs`, plus 0–`jitterMs`, so clients dropped together do not return together.
 * `random` is in [0, 1).
 */
export function reconnectDelay(attempt: number, backoff: Backoff, random: number): number {
  if (attempt === 0) return random * (backoff.firstMs ?? 250);
  const initial = backoff.initialMs ?? 1_000;
  return (
    Math.min(backoff.maxMs ?? 30_000, initial * 2 ** Math.min(attempt - 1, 16)) + random * (backoff.jitterMs ?? 1_000)
  );
}
