import { describe, expect, it } from 'vitest';
import { canvasRoutes, edgeReadyRoute, guestMeRoute, pickEncoding } from '../../src/app/edge/edge-routes.ts';
import type { HttpRequest, HttpRoute } from '../../src/app/http.ts';
import type { HttpEncoding } from '../../src/ports/compressed-canvas.ts';

const get = (route: HttpRoute | undefined, headers: Record<string, string> = {}) => {
  if (!route) throw new Error('no route');
  const request: HttpRequest = {
    method: 'GET',
    path: route.path,
    query: new URLSearchParams(),
    headers,
    remoteAddress: '127.0.0.1',
  };
  return route.handle(request);
};
const info = {
  width: 2,
  height: 3,
  colorCount: 2,
  cooldownSeconds: 5,
  palette: ['#000000', '#ffffff'],
  paletteNames: ['black', 'white'],
};

describe('edge routes', () => {
  const asked: HttpEncoding[] = [];
  const canvas = { seq: 41, width: 2, height: 3 };
  const routes = canvasRoutes({
    canvasId: 'c1',
    info,
    canvas,
    compressed: {
      http: (encoding) => (
        asked.push(encoding), { seq: 40, width: 2, height: 3, bytes: new Uint8Array([encoding.length]) }
      ),
    },
  });
  const [bytes, infoRoute] = routes;

  it('serves the canvas in the accepted encoding, labelled with the sequence its bytes reflect, and 304 on a matching ETag', async () => {
    const gz = await get(bytes, { 'accept-encoding': 'deflate, gzip;q=0.5' });
    expect(gz).toMatchObject({
      status: 200,
      headers: {
        etag: 'W/"c1-40"',
        'x-rplace-seq': '40',
        'x-canvas-width': '2',
        'x-canvas-height': '3',
        'content-encoding': 'gzip',
      },
    });
    const plain = await get(bytes);
    expect(plain.headers?.['content-encoding']).toBeUndefined();
    expect(plain.body).toEqual(new Uint8Array([8]));
    expect(await get(bytes, { 'if-none-match': 'W/"c1-39", W/"c1-40"' })).toMatchObject({ status: 304 });
    expect(asked).toEqual(['gzip', 'identity', 'identity']);
  });

  it('answers the info with the live sequence', async () => {
    expect(JSON.parse((await get(infoRoute)).body as string)).toEqual({ ...info, seq: 41 });
  });

  it('is ready only while the check says so', async () => {
    let ready = true;
    const route = edgeReadyRoute(canvas, async () => ready);
    expect(await get(route)).toMatchObject({ status: 200, body: JSON.stringify({ status: 'ready', seq: 41 }) });
    ready = false;
    expect(await get(route)).toMatchObject({ status: 503, body: JSON.stringify({ status: 'not ready', seq: 41 }) });
  });

  it('guest /me mints the cookie it is given and answers 401 without an identity', async () => {
    const minted = guestMeRoute({
      identify: async () => ({ identity: { userId: 'g_1', isGuest: true }, setCookie: 'rplace_guest=x' }),
    });
    expect(await get(minted)).toMatchObject({
      status: 200,
      headers: { 'set-cookie': 'rplace_guest=x', 'cache-control': 'no-store' },
      body: JSON.stringify({ userId: 'g_1', username: null, isGuest: true }),
    });
    expect(await get(guestMeRoute({ identify: async () => null }))).toMatchObject({ status: 401 });
  });

  it('picks gzip, then deflate, never an encoding refused with q=0', () => {
    expect([
      pickEncoding(undefined),
      pickEncoding('br'),
      pickEncoding('*'),
      pickEncoding('gzip;q=0, deflate'),
      pickEncoding('GZIP;q=0,deflate;q=0'),
    ]).toEqual(['identity', 'identity', 'gzip', 'deflate', 'identity']);
  });
});
