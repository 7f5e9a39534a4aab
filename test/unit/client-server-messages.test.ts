/**
 * The client validates every server control message (src/client/server-messages.ts) instead of casting it:
 * a valid one comes back typed, an unknown type is ignored (the protocol lets edges add types), and anything
 * malformed becomes a `ServerMessageError` reported through `onProtocolError`: never a throw, never trusted.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_SERVER_MESSAGE_CHARS,
  parseServerMessage,
  RplaceClient,
  ServerMessageError,
  type WebSocketLike,
} from '../../src/client/index.ts';
import { PROTOCOL_VERSION } from '../../proto/version.ts';

const welcome = {
  type: 'welcome',
  protocol: PROTOCOL_VERSION,
  userId: 'g-abc',
  isGuest: true,
  cooldownRemaining: 0,
  canvasInfo: {
    width: 4,
    height: 2,
    colorCount: 2,
    cooldownSeconds: 5,
    palette: ['#FFFFFF', '#000000'],
    paletteNames: ['white', 'black'],
    seq: 7,
  },
};

function invalidReason(text: string): string {
  const parsed = parseServerMessage(text);
  if (parsed.kind !== 'invalid') throw new Error(`expected invalid, got ${parsed.kind}`);
  expect(parsed.error).toBeInstanceOf(ServerMessageError);
  expect(parsed.error.excerpt).toBe(text.slice(0, 200));
  return parsed.error.message;
}

describe('parseServerMessage', () => {
  it('given each valid message type, returns it typed, dropping fields a newer edge added', () => {
    const parsed = parseServerMessage(JSON.stringify({ ...welcome, extra: 1 }));
    expect(parsed).toEqual({ kind: 'message', message: welcome });
    expect(parseServerMessage('{"type":"success","requestId":"r1","nextPlacement":1700000000000,"seq":12}')).toEqual({
      kind: 'message',
      message: { type: 'success', requestId: 'r1', nextPlacement: 1_700_000_000_000, seq: 12 },
    });
    expect(
      parseServerMessage('{"type":"error","code":"cooldown","message":"wait","requestId":"r2","remainingSeconds":3}'),
    ).toEqual({
      kind: 'message',
      message: { type: 'error', code: 'cooldown', message: 'wait', requestId: 'r2', remainingSeconds: 3 },
    });
    expect(parseServerMessage('{"type":"pong"}')).toEqual({ kind: 'message', message: { type: 'pong' } });
  });

  it('given a type it does not know, says unknown (ignored, not an error)', () => {
    expect(parseServerMessage('{"type":"announcement","text":"hi"}')).toEqual({
      kind: 'unknown',
      type: 'announcement',
    });
  });

  it('given a welcome of another protocol version, says incompatible before checking its shape', () => {
    expect(parseServerMessage(JSON.stringify({ type: 'welcome', protocol: PROTOCOL_VERSION + 1 }))).toEqual({
      kind: 'incompatible',
      protocol: PROTOCOL_VERSION + 1,
    });
  });

  it('given malformed input, returns an invalid result that names the problem', () => {
    expect(invalidReason('{not json')).toMatch(/not JSON/);
    expect(invalidReason('[1,2]')).toMatch(/not a JSON object/);
    expect(invalidReason('null')).toMatch(/not a JSON object/);
    expect(invalidReason('{"type":5}')).toMatch(/no string "type"/);
    expect(invalidReason('{"type":"success","requestId":"r1","seq":12}')).toMatch(
      /invalid "success" message.*nextPlacement/s,
    );
    expect(invalidReason('{"type":"success","requestId":"r1","nextPlacement":1,"seq":-1}')).toMatch(/seq/);
    expect(invalidReason('{"type":"error","code":"no_such_code","message":"x"}')).toMatch(
      /invalid "error" message.*code/s,
    );
    expect(invalidReason('{"type":"error","code":"internal"}')).toMatch(/message/);
    expect(invalidReason(JSON.stringify({ ...welcome, canvasInfo: { ...welcome.canvasInfo, width: 0 } }))).toMatch(
      /width/,
    );
    expect(
      invalidReason(JSON.stringify({ ...welcome, canvasInfo: { ...welcome.canvasInfo, palette: ['red'] } })),
    ).toMatch(/#RRGGBB/);
    expect(invalidReason(JSON.stringify({ ...welcome, protocol: 'one' }))).toMatch(/protocol/);
  });

  it('given a message longer than the bound, refuses it without parsing', () => {
    const long = JSON.stringify({ type: 'error', code: 'internal', message: 'x'.repeat(MAX_SERVER_MESSAGE_CHARS) });
    expect(invalidReason(long)).toMatch(/characters/);
    expect(invalidReason(JSON.stringify({ type: 'error', code: 'internal', message: 'x'.repeat(5_000) }))).toMatch(
      /message/,
    );
  });
});

/** A WebSocket the test drives by hand. */
class FakeSocket implements WebSocketLike {
  static last: FakeSocket | undefined;
  binaryType = 'arraybuffer';
  readyState = 1;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    FakeSocket.last = this;
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
}

describe('RplaceClient with invalid server messages', () => {
  it('reports each one through onProtocolError, keeps the connection and resolves places from valid answers', async () => {
    const errors: ServerMessageError[] = [];
    const welcomes: unknown[] = [];
    const client = new RplaceClient({
      url: 'http://edge.test',
      WebSocket: FakeSocket,
      onProtocolError: (e) => errors.push(e),
      onWelcome: (w) => welcomes.push(w),
    });
    void client.connect().catch(() => undefined);
    await Promise.resolve();
    const socket = FakeSocket.last!;
    socket.onopen?.({});
    const deliver = (text: string) => expect(() => socket.onmessage?.({ data: text })).not.toThrow();

    deliver('{"type":"welcome"}'); // a welcome without its fields: not trusted
    expect(client.welcome).toBeUndefined();
    deliver(JSON.stringify(welcome));
    expect(welcomes).toEqual([welcome]);

    const placed = client.place(1, 1, 1, 'req-1');
    expect(JSON.parse(socket.sent.at(-1)!)).toMatchObject({ type: 'place', requestId: 'req-1' });
    deliver('{"type":"success","requestId":"req-1","nextPlacement":"soon","seq":3}'); // wrong type: dropped
    deliver('not json at all');
    deliver('{"type":"mystery"}'); // unknown type: ignored, not an error
    deliver('{"type":"success","requestId":"req-1","nextPlacement":1000,"seq":3}');
    await expect(placed).resolves.toEqual({ type: 'success', requestId: 'req-1', nextPlacement: 1000, seq: 3 });

    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/invalid "welcome" message/),
      expect.stringMatching(/invalid "success" message.*nextPlacement/s),
      expect.stringMatching(/not JSON/),
    ]);
    expect(socket.closed).toBeUndefined();
    expect(client.status).toBe('syncing');
    client.close();
  });

  it('without an onProtocolError handler, an invalid message is dropped silently (no throw)', async () => {
    const client = new RplaceClient({ url: 'http://edge.test', WebSocket: FakeSocket });
    void client.connect().catch(() => undefined);
    await Promise.resolve();
    const socket = FakeSocket.last!;
    expect(() => socket.onmessage?.({ data: '{"type":"error","code":42}' })).not.toThrow();
    expect(() => socket.onmessage?.({ data: '{"type":"pong","x":' })).not.toThrow();
    client.close();
  });
});
