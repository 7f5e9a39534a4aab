/**
 * Baseline reader for `bench/edge-tail.ts`, one per process so its CPU can be read from /proc:
 * MODE=ordered: a bare nats.js ordered consumer `consume()` from START_SEQ, touching only `msg.seq`;
 * MODE=ordered-callback: the same consumer delivering through `consume({ callback })` (no async iterator);
 * MODE=adapter: the edge's own reader (`createNatsEventStream(...).readPixels`) with nothing behind it;
 * MODE=core: a core-NATS subscription on the canvas's subjects, touching only `msg.data`.
 * Both do no decoding and no batching: the floor the edge's tail is compared with.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { namesFor } from '../src/config/names.ts';
import { createNatsEventStream } from '../src/adapters/nats/event-stream.ts';

const mode = process.env.MODE;
const names = namesFor(process.env.CANVAS_ID ?? '');
const nc = await connectNats('nats://127.0.0.1:4222', `bench-edge-tail-${mode}`);
let received = 0;
let bytes = 0;
let batches = 0;
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'count') process.send?.({ cmd: 'count', received, bytes, batches });
});
if (mode === 'adapter') {
  const stream = createNatsEventStream(nc, names);
  process.send?.({ cmd: 'ready' });
  for await (const batch of stream.readPixels(Number(process.env.START_SEQ ?? 1))) {
    batches++;
    received += batch.count;
  }
} else if (mode === 'core') {
  nc.subscribe(names.subjects, { callback: (_err, msg) => { received++; bytes += msg.data.length; } });
  await nc.flush();
  process.send?.({ cmd: 'ready' });
} else {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(names.stream, {
    filter_subjects: names.subjects,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Number(process.env.START_SEQ ?? 1),
  });
  if (mode === 'ordered-callback') {
    await consumer.consume({ max_messages: 8192, expires: 5000, callback: (msg) => { received += msg.seq > 0 ? 1 : 0; bytes += msg.data.length; } });
    process.send?.({ cmd: 'ready' });
    await new Promise(() => undefined);
  }
  const messages = await consumer.consume({ max_messages: 8192, expires: 5000 });
  process.send?.({ cmd: 'ready' });
  let last = 0;
  for await (const msg of messages) {
    last = msg.seq;
    received++;
    bytes += msg.data.length;
  }
  void last;
}
