import { describe, expect, it } from 'vitest';
import { Kind, Parser, type ParserEvent } from '@nats-io/nats-core/internal';
import type { NatsConnection } from '@nats-io/nats-core';
import { deliverFast, type FastMessage } from '../../src/adapters/nats/fast-delivery.ts';

const td = new TextDecoder();
const te = new TextEncoder();

/** One delivered message, whichever path brought it. */
interface Seen {
  readonly path: 'fast' | 'nats';
  readonly sid: number;
  readonly subject: string;
  readonly reply: string;
  readonly headers: string;
  readonly data: string;
}

/** A connection as nats.js 3.4 holds it inside: `protocol.parser` (a real nats.js `Parser`) and its counters. */
function fakeConnection(seen: Seen[], other: string[]) {
  const dispatcher = {
    push(e: ParserEvent) {
      if (e.kind !== Kind.MSG) {
        other.push(
          Kind.PING === e.kind
            ? 'PING'
            : Kind.OK === e.kind
              ? '+OK'
              : Kind.INFO === e.kind
                ? `INFO ${td.decode(e.data)}`
                : `kind ${e.kind}`,
        );
        return;
      }
      const { msg, data } = e as {
        msg: { sid: number; subject: Uint8Array; reply?: Uint8Array; hdr: number };
        data: Uint8Array;
      };
      const hdr = Math.max(0, msg.hdr);
      seen.push({
        path: 'nats',
        sid: msg.sid,
        subject: td.decode(msg.subject),
        reply: msg.reply ? td.decode(msg.reply) : '',
        headers: td.decode(data.subarray(0, hdr)),
        data: td.decode(data.subarray(hdr)),
      });
    },
  };
  const protocol = { parser: new Parser(dispatcher as never), inMsgs: 0, inBytes: 0 };
  return { nc: { protocol } as unknown as NatsConnection, protocol, newParser: () => new Parser(dispatcher as never) };
}

const header = (id: string) => `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`;
const hmsg = (subject: string, sid: number, reply: string | null, headers: string, data: string) => {
  const total = te.encode(headers + data).length;
  return `HMSG ${subject} ${sid}${reply === null ? '' : ` ${reply}`} ${te.encode(headers).length} ${total}\r\n${headers}${data}\r\n`;
};
const msg = (subject: string, sid: number, reply: string | null, data: string) =>
  `MSG ${subject} ${sid}${reply === null ? '' : ` ${reply}`} ${te.encode(data).length}\r\n${data}\r\n`;

const big = 'x'.repeat(70 * 1024); // past the framer's carry limit: a split one goes to nats.js's parser
const ops = [
  'INFO {"server_id":"x","max_payload":1048576}\r\n',
  hmsg('rplace.c.px.0.0', 1, '$JS.ACK.S.C.1.1.1.1700000000000000000.2', header('a'), 'first'),
  hmsg('rplace.c.px.0.1', 1, '$JS.ACK.S.C.1.2.2.1700000000000000000.1', header('b'), 'sécond'),
  hmsg('_INBOX.x', 1, null, 'NATS/1.0 100 Idle Heartbeat\r\n\r\n', ''),
  msg('other.subject', 2, null, 'for nats.js'),
  'PING\r\n',
  hmsg('rplace.c.px.0.2', 1, 'decline.me', header('c'), 'declined'),
  hmsg('rplace.c.px.1.0', 2, '$JS.ACK.S.C.1.3.3.1700000000000000000.0', header('d'), 'other sid'),
  hmsg('rplace.c.px.1.1', 1, '$JS.ACK.S.C.1.4.4.1700000000000000000.0', header('e'), big),
  msg('rplace.c.px.1.2', 1, '$JS.ACK.S.C.1.5.5.1700000000000000000.0', 'no headers'),
  '+OK\r\n',
  hmsg('rplace.c.px.1.3', 1, '$JS.ACK.S.C.1.6.6.1700000000000000000.0', header('f'), 'last'),
];
const stream = te.encode(ops.join(''));
/** What arrives whole, in order, whatever the splits. */
const expected = [
  ['rplace.c.px.0.0', 'first'],
  ['rplace.c.px.0.1', 'sécond'],
  ['_INBOX.x', ''],
  ['other.subject', 'for nats.js'],
  ['rplace.c.px.0.2', 'declined'],
  ['rplace.c.px.1.0', 'other sid'],
  ['rplace.c.px.1.1', big],
  ['rplace.c.px.1.2', 'no headers'],
  ['rplace.c.px.1.3', 'last'],
];

function run(chunks: Uint8Array[]) {
  const seen: Seen[] = [];
  const other: string[] = [];
  const { nc, protocol } = fakeConnection(seen, other);
  deliverFast(nc, 1, (m: FastMessage) => {
    if (m.replyStart >= 0 && td.decode(m.frame.subarray(m.replyStart, m.replyEnd)) === 'decline.me') return false;
    seen.push({
      path: 'fast',
      sid: 1,
      subject: td.decode(m.frame.subarray(m.subjectStart, m.subjectEnd)),
      reply: m.replyStart < 0 ? '' : td.decode(m.frame.subarray(m.replyStart, m.replyEnd)),
      headers: td.decode(m.frame.subarray(m.headersStart, m.dataStart)),
      data: td.decode(m.frame.subarray(m.dataStart, m.dataEnd)),
    });
    return true;
  });
  for (const c of chunks) protocol.parser.parse(c);
  return { seen, other, protocol };
}

function splitAt(positions: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...positions, stream.length]) {
    out.push(stream.subarray(from, p));
    from = p;
  }
  return out;
}

function expectWhole(seen: Seen[], other: string[]) {
  expect(seen.map((s) => [s.subject, s.data])).toEqual(expected);
  expect(other).toEqual(['INFO {"server_id":"x","max_payload":1048576}', 'PING', '+OK']);
}

describe('deliverFast (the framer under nats.js 3.4 parser)', () => {
  it('hands a registered subscription its messages as offsets, and everything else to nats.js, in order', () => {
    const { seen, other, protocol } = run([stream]);
    expectWhole(seen, other);
    expect(seen.filter((s) => s.path === 'fast').map((s) => s.data)).toEqual([
      'first',
      'sécond',
      '',
      big,
      'no headers',
      'last',
    ]);
    // Declined and other subscriptions' messages reach nats.js whole, headers and reply included.
    expect(seen.find((s) => s.data === 'declined')).toMatchObject({
      path: 'nats',
      reply: 'decline.me',
      headers: header('c'),
    });
    expect(seen.find((s) => s.data === 'other sid')).toMatchObject({ path: 'nats', sid: 2 });
    expect(seen[0]).toMatchObject({ reply: '$JS.ACK.S.C.1.1.1.1700000000000000000.2', headers: header('a') });
    expect(protocol.inMsgs).toBe(6); // nats.js's stats still count the fast ones
  });

  it('delivers the same messages in the same order for every split into two reads', () => {
    for (let p = 1; p < stream.length; p += p < 2000 ? 1 : 97) {
      const { seen, other } = run(splitAt([p]));
      expectWhole(seen, other);
    }
  });

  it('delivers them for random splits and one byte at a time, small registered messages still on the fast path', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const cuts = new Set<number>();
      const count = 1 + rnd(40);
      for (let k = 0; k < count; k++) cuts.add(1 + rnd(stream.length - 1));
      const { seen, other } = run(splitAt([...cuts].sort((a, b) => a - b)));
      expectWhole(seen, other);
    }
    const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    const { seen, other } = run(splitAt(bytes));
    expectWhole(seen, other);
    expect(seen.find((s) => s.data === 'last')?.path).toBe('fast');
  });

  it('starts clean on a reconnect (a new parser): a half operation of the old connection is dropped', () => {
    const seen: Seen[] = [];
    const other: string[] = [];
    const { nc, protocol, newParser } = fakeConnection(seen, other);
    deliverFast(nc, 1, () => true);
    protocol.parser.parse(stream.subarray(0, ops[0]!.length + 10)); // INFO, then the start of a message
    protocol.parser = newParser(); // nats.js assigns a new Parser on each reconnect
    const handled: string[] = [];
    const stop = deliverFast(nc, 1, (m) => {
      handled.push(td.decode(m.frame.subarray(m.dataStart, m.dataEnd)));
      return true;
    });
    protocol.parser.parse(te.encode(ops[1]! + ops[2]!));
    expect(handled).toEqual(['first', 'sécond']);
    stop();
    protocol.parser.parse(te.encode(ops[1]!)); // removed: nats.js's path again
    expect(seen.map((s) => s.data)).toEqual(['first']);
  });

  it('installed while nats.js is inside an operation, leaves it to nats.js, then frames from the next boundary', () => {
    const seen: Seen[] = [];
    const other: string[] = [];
    const { nc, protocol } = fakeConnection(seen, other);
    const split = ops[0]!.length + 20;
    protocol.parser.parse(stream.subarray(0, split)); // INFO and the start of a message, read before the install
    deliverFast(nc, 1, (m) => {
      seen.push({
        path: 'fast',
        sid: 1,
        subject: '',
        reply: '',
        headers: '',
        data: td.decode(m.frame.subarray(m.dataStart, m.dataEnd)),
      });
      return true;
    });
    const opsEnd = ops[0]!.length + ops[1]!.length;
    protocol.parser.parse(stream.subarray(split, opsEnd)); // the rest of that message: nats.js's
    protocol.parser.parse(stream.subarray(opsEnd));
    expect(seen.map((s) => s.data)).toEqual(expected.map(([, data]) => data));
    expect(seen[0]?.path).toBe('nats');
    expect(seen.at(-1)?.path).toBe('fast');
  });

  it('starts clean on a reconnect whatever the old connection was cut inside, and replies interleave', () => {
    // Cut points in the old stream: inside a registered message (carried), inside a large one and inside another
    // subscription's (both handed to nats.js with a byte count), inside a control line.
    const bigStart = ops.slice(0, 8).join('').length;
    const cuts = [ops[0]!.length + 10, bigStart + 100, bigStart + 40_000, ops.slice(0, 4).join('').length + 15, 3];
    expect(ops[8]).toContain(big);
    const reply = msg('_INBOX.mux.1', 7, null, '{"type":"io.nats.jetstream.api.v1.consumer_create_response"}');
    for (const cut of cuts) {
      const seen: Seen[] = [];
      const other: string[] = [];
      const { nc, protocol, newParser } = fakeConnection(seen, other);
      const handled: string[] = [];
      deliverFast(nc, 1, (m) => {
        handled.push(td.decode(m.frame.subarray(m.dataStart, m.dataEnd)));
        return true;
      });
      protocol.parser.parse(stream.subarray(0, cut));
      protocol.parser = newParser(); // nats.js assigns a new Parser on each reconnect
      handled.length = 0;
      seen.length = 0;
      const fresh = te.encode(`${ops[0]}${ops[1]}${reply}${ops[2]}PING\r\n${reply}`);
      // The new connection's first reads: its INFO, deliveries and request replies (sid 7), split mid-operation.
      protocol.parser.parse(fresh.subarray(0, 37));
      protocol.parser.parse(fresh.subarray(37, 250));
      protocol.parser.parse(fresh.subarray(250));
      expect(handled, `cut at ${cut}`).toEqual(['first', 'sécond']);
      expect(
        seen.map((s) => `${s.sid} ${s.subject}`),
        `cut at ${cut}`,
      ).toEqual(['7 _INBOX.mux.1', '7 _INBOX.mux.1']);
    }
  });

  it('installs nothing on a connection that is not nats.js 3.4 inside', () => {
    const stop = deliverFast({} as NatsConnection, 1, () => true);
    expect(() => stop()).not.toThrow();
  });
});
