/**
 * Preload for `npm run bench -- players --count-async` (node --import): counts the async resources the server
 * creates, by type (Timeout, Immediate, TickObject, PROMISE, TCPWRAP…), over the bench's measured window: the
 * first SIGUSR2 resets the counts, the second writes them as JSON to RPLACE_ASYNC_COUNT_FILE. The hook costs CPU
 * of its own (every promise is counted), so a counting run's throughput is not a figure to quote.
 */
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';

const file = process.env.RPLACE_ASYNC_COUNT_FILE;
let counts = new Map<string, number>();
createHook({ init: (_id, type) => void counts.set(type, (counts.get(type) ?? 0) + 1) }).enable();
let armed = false;
process.on('SIGUSR2', () => {
  if (!armed) {
    armed = true;
    counts = new Map();
    return;
  }
  if (file !== undefined) writeFileSync(file, JSON.stringify(Object.fromEntries(counts)));
});
