import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../proto/close-codes.ts';
import { ErrorCode } from '../../proto/error-codes.ts';
import { CanvasEncoding, decodeFrame, encodeCanvasFrame, FrameType } from '../../proto/frames.ts';
import { MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION } from '../../proto/messages.ts';
import { asAccountIdentity } from '../../src/app/auth/identity.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { MAX_BAD_MESSAGES, MAX_INFLIGHT_PLACES, type Admitted } from '../../src/app/edge/edge-session.ts';
import { EdgeSessions, type EdgeSessionsDeps } from '../../src/app/edge/edge-sessions.ts';
import type { PlaceOutcome, PlaceRequest } from '../../src/app/place-pixel.ts';
import { perMinute } from '../../src/domain/limits.ts';
import type { CompressedCanvasEntry } from '../../src/ports/compressed-canvas.ts';
import type { EdgeMetrics } from '../../src/ports/edge-metrics.ts';
import type { SessionSocket } from '../../src/ports/session-socket.ts';

/** Records everything the session does to its socket. */
class FakeSocket implements SessionSocket {
  readonly texts: Record<string, unknown>[] = [];
  readonly frames: Uint8Array[] = [];
  /** Everything in order: `text:<type>`, `frame:<pixels|canvas>`, `subscribe`, `unsubscribe`, `end:<code>`. */
  readonly log: string[] = [];
  ended: { code: number; reason: string } | null = null;
  /** Called inside `end`, as uWS emits `close` synchronously from `end`. */
  onEnd: ((code: number, reason: string) => void) | null = null;
  buffered = 0;
  sendResult = 1;
  corked = 0;
  sendText(text: string) {
    const message = JSON.parse(text) as Record<string, unknown>;
    this.texts.push(message);
    this.log.push(`text:${String(message['type'])}`);
  }
  sendBinary(frame: Uint8Array) {
    this.frames.push(frame);
    const type = decodeFrame(frame).type;
    this.log.push(`frame:${type === FrameType.Canvas ? 'canvas' : type === FrameType.Tile ? 'tile' : 'pixels'}`);
    return this.sendResult;
  }
  end(code: number, reason: string) {
    this.ended = { code, reason };
    this.log.push(`end:${code}`);
    this.onEnd?.(code, reason);
  }
  subscribe() {
    this.log.push('subscribe');
  }
  unsubscribe() {
    this.log.push('unsubscribe');
  }
  subscribeTile(tile: number) {
    this.log.push(`subscribe:${tile}`);
  }
  unsubscribeTile(tile: number) {
    this.log.push(`unsubscribe:${tile}`);
  }
  bufferedAmount() {
    return this.buffered;
  }
  cork(write: () => void) {
    this.corked++;
    write();
  }
  get last() {
    return this.texts.at(-1);
  }
}

function recordingMetrics(): EdgeMetrics & { readonly calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    refused: (limit) => calls.push(`refused:${limit}`),
    frameSent: (kind) => calls.push(`sent:${kind}`),
    frameDropped: (reason) => calls.push(`dropped:${reason}`),
    resync: (reason) => calls.push(`resync:${reason}`),
    placementAnswered: (outcome) => calls.push(`placement:${outcome.ok ? 'ok' : outcome.code}`),
    connections: (open) => calls.push(`connections:${open}`),
    published: (events) => calls.push(`published:${events}`),
    pendingResponses: (pending) => calls.push(`pending:${pending}`),
  };
}

const info = { width: 4, height: 4, colorCount: 16, cooldownSeconds: 1, palette: [], paletteNames: [] };
const text = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)).buffer;
const place = (requestId: string) => text({ type: 'place', requestId, x: 1, y: 1, color: 2 });

/** A placement whose answer the test gives. */
function deferredPlacements() {
  const pending: { request: PlaceRequest; resolve: (o: PlaceOutcome) => void; reject: (e: unknown) => void }[] = [];
  const placePixel = (request: PlaceRequest) =>
    new Promise<PlaceOutcome>((resolve, reject) => pending.push({ request, resolve, reject }));
  return { pending, placePixel };
}

/** An edge at seq 10 whose ring holds 11..(10 + ringEvents) once `advance` published them. */
function setup(overrides: Partial<EdgeSessionsDeps> = {}, ringEvents = 8) {
  const canvas = new EdgeCanvas(4, new Uint8Array(16), 10, { ringEvents });
  const advance = (count: number) => {
    for (let i = 0; i < count; i++) canvas.pushPixel(canvas.receivedSeq + 1, i % 4, 0, 1);
    canvas.flush();
  };
  const frames: string[] = [];
  let stale: CompressedCanvasEntry | null = null;
  const compressed = {
    /** A cached canvas older than the live one until `forceCurrent` (or none set). */
    frame(forceCurrent = false): CompressedCanvasEntry {
      frames.push(forceCurrent ? 'current' : 'cached');
      if (stale && !forceCurrent) return stale;
      return {
        seq: canvas.seq,
        width: 4,
        height: 4,
        bytes: encodeCanvasFrame(canvas.seq, 4, 4, CanvasEncoding.Raw, new Uint8Array(16)),
      };
    },
    staleAt(seq: number) {
      stale = { seq, width: 4, height: 4, bytes: encodeCanvasFrame(seq, 4, 4, CanvasEncoding.Raw, new Uint8Array(16)) };
    },
  };
  const metrics = recordingMetrics();
  const placements = deferredPlacements();
  let now = 0;
  const errors: unknown[] = [];
  const sessions = new EdgeSessions({
    canvas,
    compressed,
    info,
    maxBackpressure: 1000,
    largeCatchUpBytes: 1 << 20,
    metrics,
    clock: { now: () => now },
    clientLimits: {
      messages: { perSecond: 1000, burst: 1000 },
      resyncsPerSocket: perMinute(6),
      resyncsPerIp: perMinute(30),
      maxUnreadResponsesPerIp: 8,
    },
    // A guest minted by this identify: the session is served at its open (no cooldown to read first).
    identity: { identify: async () => ({ identity: { userId: 'g_1', isGuest: true }, minted: true }) },
    cooldowns: { remainingMsMany: async (userIds) => userIds.map(() => 0) },
    placePixel: placements.placePixel,
    onPlacementError: (error) => errors.push(error),
    ...overrides,
  });
  const connect = (admitted: Partial<Admitted> = {}, socket = new FakeSocket()) => {
    const full: Admitted = {
      account: asAccountIdentity({ userId: 'g_1', isGuest: true }),
      ip: '10.0.0.1',
      since: null,
      version: null,
      cooldownRemaining: 0,
      ...admitted,
    };
    const session = sessions.open(
      socket,
      full,
      { ip: full.ip, since: full.since, version: full.version, holdsSlot: false },
      () => undefined,
    );
    return { socket, session };
  };
  return {
    canvas,
    advance,
    compressed,
    frames,
    metrics,
    placements,
    sessions,
    connect,
    errors,
    tick: (ms: number) => (now += ms),
  };
}

const flushPromises = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('edge session: from the upgrade to the live topic', () => {
  it('given no since, welcomes, sends a whole canvas and subscribes after it', () => {
    const { connect, metrics } = setup();
    const { socket } = connect({ cooldownRemaining: 3 });
    expect(socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:canvas', 'subscribe']);
    expect(socket.texts[0]).toEqual({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      userId: 'g_1',
      isGuest: true,
      cooldownRemaining: 3,
      canvasInfo: { ...info, seq: 10 },
    });
    expect(metrics.calls).toEqual(['connections:1', 'sent:canvas']);
  });

  it('given a since the ring still holds, sends only the catch-up frame, then subscribes (no whole canvas)', () => {
    const { connect, advance, frames } = setup();
    advance(3);
    const { socket } = connect({ since: 11 });
    expect(socket.log).toEqual(['text:welcome', 'frame:pixels', 'subscribe']);
    const frame = decodeFrame(socket.frames[0] as Uint8Array);
    expect(frame.type === FrameType.Pixels && [frame.firstSeq, frame.lastSeq]).toEqual([12, 13]);
    expect(frames).toEqual([]);
  });

  it('given a since ahead of this edge, subscribes without sending anything', () => {
    const { socket } = setup().connect({ since: 99 });
    expect(socket.log).toEqual(['text:welcome', 'subscribe']);
  });

  it('given a since older than the ring, counts a resync and sends the whole canvas', () => {
    const { connect, advance, metrics } = setup({}, 2);
    advance(5);
    const { socket } = connect({ since: 11 });
    expect(socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:canvas', 'subscribe']);
    expect(metrics.calls).toContain('resync:client_behind_ring');
  });

  it('follows a cached canvas older than the live one with the catch-up from its sequence', () => {
    const { connect, advance, compressed, frames } = setup();
    advance(2);
    compressed.staleAt(11);
    const { socket } = connect();
    expect(frames).toEqual(['cached']);
    expect(socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:canvas', 'frame:pixels', 'subscribe']);
    const frame = decodeFrame(socket.frames[1] as Uint8Array);
    expect(frame.type === FrameType.Pixels && [frame.firstSeq, frame.lastSeq]).toEqual([12, 12]);
  });

  it('recompresses when the cached canvas is older than the ring can bring up to date', () => {
    const { connect, advance, compressed, frames } = setup({}, 2);
    advance(5);
    compressed.staleAt(10);
    connect();
    expect(frames).toEqual(['cached', 'current']);
  });

  it('refuses another protocol version with unsupported_version and 4001, before any welcome', () => {
    const { socket } = setup().connect({ version: PROTOCOL_VERSION + 1 });
    expect(socket.log).toEqual(['text:error', `end:${CloseCode.UnsupportedVersion}`]);
    expect(socket.last).toMatchObject({ code: 'unsupported_version' });
  });
});

describe('edge session: drain waits', () => {
  it('given a canvas still buffered past half of maxBackpressure, subscribes only once it drained, with the catch-up in between', () => {
    const { connect, advance, frames } = setup();
    const socket = new FakeSocket();
    socket.buffered = 600;
    const { session } = connect({}, socket);
    expect(socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:canvas']);
    advance(2);
    session.receive(text({ type: 'resume', since: 10 }), false); // ignored while the canvas waits
    session.drained(); // still above half
    expect(socket.log).toHaveLength(3);
    socket.buffered = 500;
    session.drained();
    expect(socket.log.slice(3)).toEqual(['frame:pixels', 'subscribe']);
    expect(frames).toEqual(['cached']);
    session.drained(); // nothing waits any more
    expect(socket.log).toHaveLength(5);
  });

  it('does not charge the catch-up that completes a paid canvas, however large', () => {
    const { connect, advance, metrics } = setup({
      largeCatchUpBytes: 1,
      clientLimits: {
        messages: { perSecond: 1, burst: 10 },
        resyncsPerSocket: { perSecond: 0.0001, burst: 1 },
        resyncsPerIp: perMinute(30),
        maxUnreadResponsesPerIp: 8,
      },
    });
    const socket = new FakeSocket();
    socket.buffered = 600;
    const { session } = connect({}, socket);
    advance(1);
    socket.buffered = 0;
    session.drained();
    expect(socket.ended).toBeNull();
    expect(metrics.calls.filter((c) => c.startsWith('refused'))).toEqual([]);
  });
});

describe('edge session: bounds', () => {
  it(`answers the ${MAX_INFLIGHT_PLACES + 1}th placement in flight with rate_limited and keeps the socket; the next one after an answer is placed`, async () => {
    const { connect, placements, metrics } = setup();
    const { socket, session } = connect();
    for (let i = 0; i <= MAX_INFLIGHT_PLACES; i++) session.receive(place(`r${i}`), false);
    expect(placements.pending.map((p) => p.request.requestId)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(socket.last).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: `at most ${MAX_INFLIGHT_PLACES} placements in flight`,
      requestId: `r${MAX_INFLIGHT_PLACES}`,
    });
    expect(socket.ended).toBeNull();
    placements.pending[0]?.resolve({ ok: true, seq: 11, nextPlacement: 5, duplicate: false });
    await flushPromises();
    expect(socket.last).toEqual({ type: 'success', requestId: 'r0', nextPlacement: 5, seq: 11 });
    expect(socket.corked).toBe(1);
    expect(metrics.calls).toContain('placement:ok');
    session.receive(place('r5'), false);
    expect(placements.pending).toHaveLength(MAX_INFLIGHT_PLACES + 1);
    expect(placements.pending[MAX_INFLIGHT_PLACES]?.request).toEqual({
      requestId: 'r5',
      x: 1,
      y: 1,
      color: 2,
      userId: 'g_1',
    });
  });

  it('does not count in-flight refusals toward the malformed-message limit', () => {
    const { socket, session } = setup().connect();
    for (let i = 0; i < MAX_INFLIGHT_PLACES + MAX_BAD_MESSAGES + 5; i++) session.receive(place(`r${i}`), false);
    expect(socket.ended).toBeNull();
  });

  it(`tolerates ${MAX_BAD_MESSAGES} malformed messages, each answered bad_request, and closes with 1008 on the next`, () => {
    const { socket, session } = setup().connect();
    const bad = [
      text('not json'),
      text({ type: 'place', requestId: 'x', x: -1, y: 0, color: 0 }),
      text({ type: 'nope' }),
    ];
    for (let i = 0; i < MAX_BAD_MESSAGES; i++) session.receive(bad[i % bad.length] as ArrayBuffer, false);
    expect(socket.ended).toBeNull();
    expect(socket.texts.slice(1).every((m) => m['type'] === 'error' && m['code'] === 'bad_request')).toBe(true);
    expect(socket.texts[2]).toMatchObject({ requestId: 'x' });
    session.receive(new Uint8Array([1, 2]).buffer, true); // binary counts too
    expect(socket.last).toEqual({
      type: 'error',
      code: 'bad_request',
      message: 'client messages are JSON text frames',
    });
    expect(socket.ended).toEqual({ code: CloseCode.PolicyViolation, reason: 'too many malformed messages' });
  });

  it('closes a socket past its message rate with rate_limited and 1008, then drops its messages unanswered', () => {
    const { connect, metrics, tick } = setup({
      clientLimits: {
        messages: { perSecond: 10, burst: 2 },
        resyncsPerSocket: perMinute(6),
        resyncsPerIp: perMinute(30),
        maxUnreadResponsesPerIp: 8,
      },
    });
    const { socket, session } = connect();
    session.receive(text({ type: 'ping' }), false);
    tick(100); // refills one
    session.receive(text({ type: 'ping' }), false);
    session.receive(text({ type: 'ping' }), false);
    expect(socket.texts.filter((m) => m['type'] === 'pong')).toHaveLength(3);
    session.receive(text({ type: 'ping' }), false);
    expect(socket.last).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'more than 10 messages a second (burst 2)',
    });
    expect(socket.ended?.code).toBe(CloseCode.PolicyViolation);
    expect(metrics.calls).toContain('refused:ws_messages');
    const before = socket.texts.length;
    tick(10_000);
    session.receive(text({ type: 'ping' }), false);
    expect(socket.texts).toHaveLength(before);
  });

  it(`answers a message over ${MAX_CLIENT_MESSAGE_BYTES} bytes with too_large and 1009`, () => {
    const { connect, metrics } = setup();
    const { socket, session } = connect();
    session.receive(new ArrayBuffer(MAX_CLIENT_MESSAGE_BYTES + 1), false);
    expect(socket.last).toMatchObject({ code: 'too_large' });
    expect(socket.ended?.code).toBe(CloseCode.MessageTooBig);
    expect(metrics.calls).toContain('refused:ws_message_size');
  });

  it('charges a large catch-up like a whole canvas: past the socket budget, rate_limited with the wait and 1013', () => {
    const { connect, advance, metrics } = setup({
      largeCatchUpBytes: 1,
      clientLimits: {
        messages: { perSecond: 100, burst: 100 },
        resyncsPerSocket: perMinute(1),
        resyncsPerIp: perMinute(30),
        maxUnreadResponsesPerIp: 8,
      },
    });
    advance(2);
    const { socket, session } = connect({ since: 11 }); // spends the one token
    expect(socket.log).toEqual(['text:welcome', 'frame:pixels', 'subscribe']);
    session.receive(text({ type: 'resume', since: 10 }), false);
    expect(socket.last).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'too many whole-canvas sends on this socket; reconnect in 60 s',
      remainingSeconds: 60,
    });
    expect(socket.ended?.code).toBe(CloseCode.TryAgainLater);
    expect(metrics.calls).toContain('refused:ws_resyncs_per_socket');
  });

  it('counts a frame uWS dropped (send result 2) instead of a frame sent', () => {
    const { connect, metrics } = setup();
    const socket = new FakeSocket();
    socket.sendResult = 2;
    connect({}, socket);
    expect(metrics.calls).toContain('dropped:backpressure');
    expect(metrics.calls).not.toContain('sent:canvas');
  });
});

describe('edge session: placements and closing', () => {
  it('answers a refusal with its code and remaining seconds, and a thrown placement with internal', async () => {
    const { connect, placements, errors } = setup();
    const { socket, session } = connect();
    session.receive(place('a'), false);
    session.receive(place('b'), false);
    placements.pending[0]?.resolve({ ok: false, code: 'cooldown', message: 'wait', remainingSeconds: 4 });
    placements.pending[1]?.reject(new Error('nats down'));
    await flushPromises();
    expect(socket.texts.slice(-2)).toEqual([
      { type: 'error', code: 'cooldown', message: 'wait', requestId: 'a', remainingSeconds: 4 },
      { type: 'error', code: 'internal', message: 'internal error', requestId: 'b' },
    ]);
    expect(errors).toHaveLength(1);
  });

  it('sends nothing for a placement answered after the socket closed, and releases the slot once', async () => {
    const released: string[] = [];
    const access = {
      checkOrigin: () => null,
      clientIp: (peer: string) => peer,
      connections: { acquire: () => true, release: (ip: string) => released.push(ip) } as never,
      place: (_a: unknown, _ip: string, request: Omit<PlaceRequest, 'userId'>) =>
        Promise.resolve<PlaceOutcome>({ ok: true, seq: 1, nextPlacement: 1, duplicate: request.requestId === 'dup' }),
    };
    const { sessions, metrics } = setup({ access });
    const admission = sessions.admit({
      headers: { cookie: '', origin: '', host: '' },
      ip: '10.0.0.9',
      version: '',
      since: '5',
    });
    if (!admission.ok) throw new Error('expected admission');
    const identified = await sessions.identify(admission.ticket, { cookie: '', origin: '', host: '' });
    if (!identified.ok) throw new Error('expected an identity');
    expect(identified.admitted.since).toBe(5);
    const socket = new FakeSocket();
    const session = sessions.open(socket, identified.admitted, admission.ticket, () => undefined);
    session.receive(place('dup'), false);
    sessions.closed(session, 1006, 'Received too big message');
    sessions.release(admission.ticket);
    await flushPromises();
    expect(socket.texts.map((m) => m['type'])).toEqual(['welcome']);
    expect(released).toEqual(['10.0.0.9']);
    expect(metrics.calls).toEqual(
      expect.arrayContaining(['refused:ws_message_size', 'dropped:closed', 'connections:0', 'placement:ok']),
    );
    expect(sessions.size).toBe(0);
  });

  it('closes sessions by identity and all of them once on shutdown', () => {
    const { connect, sessions } = setup();
    const a = connect({ account: asAccountIdentity({ userId: 'u_a', isGuest: false }) });
    const b = connect();
    expect(sessions.closeWhere((who) => who.userId === 'u_a', CloseCode.Banned, 'banned')).toBe(1);
    expect(a.socket.ended).toEqual({ code: CloseCode.Banned, reason: 'banned' });
    sessions.closed(a.session, CloseCode.Banned, '');
    expect(sessions.shutdown()).toBe(true);
    expect(sessions.shutdown()).toBe(false);
    expect(b.socket.ended).toEqual({ code: CloseCode.GoingAway, reason: 'edge shutting down' });
    expect(sessions.closing).toBe(true);
  });
});

describe('edge sessions: a socket refused while it opens', () => {
  it('is closed, uncounted and its slot released even though the transport reports the close inside open', async () => {
    const released: string[] = [];
    const access = {
      checkOrigin: () => null,
      clientIp: (peer: string) => peer,
      connections: { acquire: () => true, release: (ip: string) => released.push(ip) } as never,
      place: async () => ({ ok: true, seq: 1, nextPlacement: 1, duplicate: false }) as PlaceOutcome,
    };
    const { sessions, metrics } = setup({ access });
    const admission = sessions.admit({
      headers: { cookie: '', origin: '', host: '' },
      ip: '10.0.0.5',
      version: String(PROTOCOL_VERSION + 1),
      since: '',
    });
    if (!admission.ok) throw new Error('expected admission');
    const identified = await sessions.identify(admission.ticket, { cookie: '', origin: '', host: '' });
    if (!identified.ok) throw new Error('expected an identity');
    const socket = new FakeSocket();
    let attached: ReturnType<typeof sessions.open> | null = null;
    socket.onEnd = (code, reason) => {
      if (!attached) throw new Error('closed before the session was attached');
      sessions.closed(attached, code, reason);
    };
    const session = sessions.open(socket, identified.admitted, admission.ticket, (s) => (attached = s));
    expect(socket.ended?.code).toBe(CloseCode.UnsupportedVersion);
    expect(session.isClosed).toBe(true);
    expect(sessions.size).toBe(0);
    expect(released).toEqual(['10.0.0.5']);
    expect(metrics.calls.filter((c) => c.startsWith('connections'))).toEqual(['connections:1', 'connections:0']);
    expect(sessions.closeWhere(() => true, CloseCode.Banned, 'banned')).toBe(0);
  });
});

describe('edge sessions: upgrade admission', () => {
  const request = {
    headers: { cookie: '', origin: 'https://evil.example', host: 'edge' },
    ip: '10.0.0.2',
    version: '1',
    since: '12',
  };
  const accessWith = (origin: string | null, slots: number, released: string[]) => {
    let held = 0;
    return {
      checkOrigin: () => origin,
      clientIp: () => '203.0.113.7',
      connections: {
        acquire: () => (held < slots ? (held++, true) : false),
        release: (ip: string) => (held--, released.push(ip)),
      } as never,
      place: async () => ({ ok: true, seq: 1, nextPlacement: 1, duplicate: false }) as PlaceOutcome,
    };
  };

  it('refuses in order: shutting down 503, bad Origin 403 forbidden, past the connection cap 429 rate_limited', () => {
    const released: string[] = [];
    const denied = setup({ access: accessWith('origin not allowed', 1, released) }).sessions;
    expect(denied.admit(request)).toMatchObject({
      ok: false,
      refusal: { status: 403, body: JSON.stringify({ code: 'forbidden', message: 'origin not allowed' }) },
    });
    const capped = setup({ access: accessWith(null, 1, released) }).sessions;
    const first = capped.admit(request);
    expect(first).toMatchObject({ ok: true, ticket: { since: 12, version: 1, holdsSlot: true } });
    expect(capped.admit(request)).toMatchObject({
      ok: false,
      refusal: {
        status: 429,
        body: JSON.stringify({ code: 'rate_limited', message: 'too many connections from your address' }),
      },
    });
    if (first.ok) {
      capped.release(first.ticket);
      capped.release(first.ticket); // aborted and refused both release: once
    }
    expect(released).toEqual(['10.0.0.2']);
    expect(capped.admit(request).ok).toBe(true);
    capped.shutdown();
    expect(capped.admit(request)).toEqual({ ok: false, refusal: { status: 503, body: 'edge shutting down' } });
    expect(capped.clientIp('127.0.0.1', () => undefined)).toBe('203.0.113.7');
    expect(setup().sessions.clientIp('127.0.0.1', () => undefined)).toBe(''); // no access: no per-address limits
  });

  it('answers 401 unauthorized without an identity, and a cooldown store failure as no cooldown', async () => {
    const anonymous = setup({ identity: { identify: async () => null } }).sessions;
    const ticket = anonymous.admit(request);
    if (!ticket.ok) throw new Error('expected a ticket');
    expect(await anonymous.identify(ticket.ticket, request.headers)).toMatchObject({
      ok: false,
      refusal: { status: 401 },
    });
    const flaky = setup({
      identity: { identify: async () => ({ identity: { userId: 'g_2', isGuest: true }, setCookie: 'c=1' }) },
      cooldowns: { remainingMsMany: async () => Promise.reject(new Error('redis')) },
    }).sessions;
    const second = flaky.admit({ ...request, since: 'x', version: '99999' });
    if (!second.ok) throw new Error('expected a ticket');
    const identified = await flaky.identify(second.ticket, request.headers);
    expect(identified).toEqual({
      ok: true,
      setCookie: 'c=1',
      admitted: {
        account: asAccountIdentity({ userId: 'g_2', isGuest: true }),
        ip: '10.0.0.2',
        since: null,
        version: null,
        cooldownRemaining: null, // read at the open
      },
    });
    if (!identified.ok) throw new Error('expected an identity');
    const socket = new FakeSocket();
    flaky.open(socket, { ...identified.admitted, version: null }, second.ticket, () => undefined);
    await flushPromises();
    expect(socket.texts[0]).toMatchObject({ type: 'welcome', cooldownRemaining: 0 }); // the store failed: no cooldown
  });

  it("reads returning identities' cooldowns after the upgrade, one store call per loop turn, and answers early messages after welcome", async () => {
    const calls: string[][] = [];
    let answer: (ms: number[]) => void = () => undefined;
    const cooldowns = {
      remainingMsMany: (userIds: readonly string[]) => {
        calls.push([...userIds]);
        return new Promise<number[]>((resolve) => (answer = resolve));
      },
    };
    const returning = setup({
      cooldowns,
      identity: { identify: async () => ({ identity: { userId: 'g_back', isGuest: true } }) },
    }).sessions;
    const first = returning.admit(request);
    const second = returning.admit(request);
    if (!first.ok || !second.ok) throw new Error('expected tickets');
    const identified = await returning.identify(first.ticket, request.headers);
    if (!identified.ok) throw new Error('expected an identity');
    expect(identified.admitted.cooldownRemaining).toBeNull();
    expect(calls).toEqual([]); // the upgrade itself waits on no store
    const admitted = { ...identified.admitted, version: null };
    const socket = new FakeSocket();
    const session = returning.open(socket, admitted, first.ticket, () => undefined);
    const quiet = new FakeSocket();
    const other = { ...admitted, account: asAccountIdentity({ userId: 'g_two', isGuest: true }) };
    const gone = returning.open(quiet, other, second.ticket, () => undefined);
    const ping = () => new TextEncoder().encode(JSON.stringify({ type: 'ping' })).buffer as ArrayBuffer;
    for (let i = 0; i < 5; i++) session.receive(ping(), false); // before welcome: 4 kept, the fifth refused
    expect(socket.texts).toEqual([
      expect.objectContaining({
        type: 'error',
        code: ErrorCode.rate_limited,
        message: 'too many messages before welcome',
      }),
    ]);
    await flushPromises();
    expect(calls).toEqual([['g_back', 'g_two']]); // both opens of the turn in one read
    returning.closed(gone, 1001, ''); // closed before its cooldown arrives: nothing is sent to it
    answer([90_500, 0]);
    await flushPromises();
    expect(socket.texts[1]).toMatchObject({ type: 'welcome', userId: 'g_back', cooldownRemaining: 91 });
    expect(socket.texts.slice(2).map((m) => m['type'])).toEqual(['pong', 'pong', 'pong', 'pong']); // after welcome
    expect(socket.corked).toBeGreaterThan(0); // served in the socket's cork
    expect(quiet.texts).toEqual([]);

    const fresh = setup({ cooldowns }).sessions; // its identity is minted by identify: no read at all
    const third = fresh.admit(request);
    if (!third.ok) throw new Error('expected a ticket');
    expect(await fresh.identify(third.ticket, request.headers)).toMatchObject({ admitted: { cooldownRemaining: 0 } });
    expect(calls).toHaveLength(1);
  });
});
