import { describe, expect, it } from 'vitest';
import { parseAckBytes, parseAckSubject, parsedAck } from '../../src/adapters/nats/pixel-tail.ts';

const parse = (s: string) => (parseAckSubject(s) ? { ...parsedAck } : null);

describe('parseAckSubject (JetStream reply subjects, as nats.js parseInfo reads them)', () => {
  it('reads the stored timestamp to whole milliseconds (the nanoseconds below are dropped)', () => {
    expect(parse('$JS.ACK.RPLACE_x.edge_1.1.5.6.1764580000123999999.0')).toMatchObject({
      streamSeq: 5,
      storedAtMs: 1764580000123,
    });
    expect(parse('$JS.ACK.RPLACE_x.edge_1.1.5.6.x764580000123999999.0')).toBeNull();
  });
  it('reads the stream and delivery sequences in the 9-token layout', () => {
    expect(parse('$JS.ACK.RPLACE_x.edge_1.1.4711.12.1700000000000000000.3')).toEqual({
      streamSeq: 4711,
      deliverySeq: 12,
      storedAtMs: 1700000000000,
    });
  });
  it('reads them in the 11- and 12-token layouts (domain, account hash, random suffix)', () => {
    expect(parse('$JS.ACK._.HASH.RPLACE_x.edge_1.1.4711.12.1700000000000000000.3')).toEqual({
      streamSeq: 4711,
      deliverySeq: 12,
      storedAtMs: 1700000000000,
    });
    expect(parse('$JS.ACK.hub.HASH.RPLACE_x.edge_1.2.9007199254740991.1.1700000000000000000.0.rAnD')).toEqual({
      streamSeq: 9007199254740991,
      deliverySeq: 1,
      storedAtMs: 1700000000000,
    });
  });
  it('reads a subject longer than its scratch buffer, and a short one after it, alike', () => {
    const stream = `RPLACE_${'s'.repeat(300)}`;
    expect(parse(`$JS.ACK.${stream}.edge_1.1.77.8.1700000000000000000.3`)).toEqual({
      streamSeq: 77,
      deliverySeq: 8,
      storedAtMs: 1700000000000,
    });
    expect(parse('$JS.ACK.RPLACE_x.edge_1.1.5.6.1764580000123999999.0')).toMatchObject({
      streamSeq: 5,
      deliverySeq: 6,
    });
  });
  it('refuses anything else', () => {
    for (const s of [
      '',
      '$JS.ACK.a.b.c',
      '_INBOX.abc.1',
      '$JS.ACK.S.C.1.x.2.3.4',
      '$JS.NAK.S.C.1.2.3.4.5',
      '$JS.ACK.a.b.c.d.e.f.g.h.i.j.k.l.m',
      '$JS.ACK.S.C.1.99999999999999999.2.3.4',
      '$JS.ACK.S.C.1..2.3.4',
      '$JS.ACK.S.C.1.-5.2.3.4',
    ]) {
      expect(parse(s), s).toBeNull();
    }
  });
  it('reads the same from the bytes of a socket read (parseAckBytes, at an offset inside a larger buffer)', () => {
    for (const s of [
      '$JS.ACK.RPLACE_x.edge_1.1.4711.12.1700000000000000000.3',
      '$JS.ACK._.HASH.RPLACE_x.edge_1.1.4711.12.1700000000000000000.3',
      '$JS.ACK.hub.HASH.RPLACE_x.edge_1.2.9007199254740991.1.1700000000000000000.0.rAnD',
      '$JS.ACK.S.C.1.5.6.123.0',
      '$JS.ACK.S.C.1.5.6..0',
      '$JS.ACK.a.b.c',
      '$JS.ACK.S.C.1.x.2.3.4',
      '$JS.ACK.S.C.1.99999999999999999.2.3.4',
      '$JS.ACKS.C.1.2.3.4.5.6.7',
      '$JS.ACK.S.C.1.2.3.4.5 ',
    ]) {
      const expected = parse(s);
      const bytes = new TextEncoder().encode(`HMSG x 1 ${s} 12 34\r\n`);
      const from = 'HMSG x 1 '.length;
      const got = parseAckBytes(bytes, from, from + new TextEncoder().encode(s).length) ? { ...parsedAck } : null;
      expect(got, s).toEqual(expected);
    }
  });
});
