/**
 * Waits `ms`, or less when `signal` aborts; never rejects, so retry loops can simply re-check the signal
 * after it. The one `sleep` of the code base: every loop that backs off (projectors, edge tail,
 * projection source) and every test that must let real time pass (a cooldown running out) use it.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
