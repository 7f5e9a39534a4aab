/**
 * Baseline reader for `bench/edge-tail.ts`, one per process so its CPU can be read from /proc:
 * MODE=ordered: a bare nats.js ordered consumer `consume()` from START_SEQ, touching only `msg.seq`;
 * MODE=ordered-callback: the same consumer delivering through `consume({ callback })` (no async iterator);
 * MODE=adapter: the edge's own reader (`createNatsEventStream(...).readPixels`) with nothing behind it;
 * MODE=adapter-fast: the same reader on the socket-bytes fast path (`fastDelivery`, fast-delivery.ts);
 * MODE=pull: the JetStream pull protocol by hand over a core subscription (an ephemeral AckNone consumer,
 *   pull requests, the stream sequence read from the reply subject): what an ordered consumer costs without
 *   nats.js's JsMsg and iterator layers (no gap recovery: a measurement, not a reader to use);
 * MODE=core: a core-NATS subscription on the canvas's subjects, touching only `msg.data`.
 * Both do no decoding and no batching: the floor the edge's tail is compared with.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createInbox, nanos } from '@nats-io/nats-core';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { namesFor } from '../src/domain/names.ts';
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
if (mode === 'adapter' || mode === 'adapter-fast') {
  const stream = createNatsEventStream(nc, names, {
    canvas: { width: 2000, height: 2000, colors: 32 },
    reader: 'bench',
    fastDelivery: mode === 'adapter-fast',
  });
  process.send?.({ cmd: 'ready' });
  for await (const batch of stream.readPixels(Number(process.env.START_SEQ ?? 1))) {
    batches++;
    received += batch.count;
  }
} else if (mode === 'pull') {
  const jsm = await jetstreamManager(nc);
  const consumer = await jsm.consumers.add(names.stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Number(process.env.START_SEQ ?? 1),
    filter_subject: names.subjects,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(5 * 60_000),
  });
  const inbox = createInbox();
  const next = `$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${consumer.name}`;
  const request = JSON.stringify({ batch: 8192, expires: nanos(5000), idle_heartbeat: nanos(2500) });
  let outstanding = 0;
  let lastSeq = 0;
  const pull = () => {
    nc.publish(next, request, { reply: inbox });
    outstanding += 8192;
  };
  nc.subscribe(inbox, {
    callback: (_err, msg) => {
      const reply = msg.reply;
      if (!reply) {
        if (msg.headers?.code !== 100) {
          outstanding = 0;
          pull();
        } // request expired: ask again
        return;
      }
      // $JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<ts>.<pending> (older 9-token form)
      let end = reply.length;
      for (let k = 0; k < 4; k++) end = reply.lastIndexOf('.', end - 1);
      lastSeq = Number(reply.slice(reply.lastIndexOf('.', end - 1) + 1, end));
      received++;
      bytes += msg.data.length;
      if (--outstanding < 4096) pull();
    },
  });
  pull();
  process.send?.({ cmd: 'ready' });
  void lastSeq;
} else if (mode === 'core') {
  nc.subscribe(names.subjects, {
    callback: (_err, msg) => {
      received++;
      bytes += msg.data.length;
    },
  });
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
    await consumer.consume({
      max_messages: 8192,
      expires: 5000,
      callback: (msg) => {
        received += msg.seq > 0 ? 1 : 0;
        bytes += msg.data.length;
      },
    });
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
