#!/usr/bin/env node
/**
 * Smoke check of the moderator console's server side on a running product, as a moderator's browser would:
 * registers an account, grants it the moderator role with the operator CLI (`rplace mod grant`, so run it
 * with the operator's environment: `.data/cluster/operator.env` in `npm run topology`), places a pixel as
 * that account, then through /api/v1/mod/…: me, survey (the account is listed), preview, apply twice with one
 * idempotency key (the second writes nothing), and the pixel's history shows the compensating event. A guest
 * gets 403 on the same routes.
 *
 *   node scripts/mod-check.mjs URL
 *
 * Prints one line per step; exits 1 on a failure. Plain JavaScript on `ws`, like scripts/place-check.mjs.
 */
import { spawnSync } from 'node:child_process';
import { placeOverWebSocket, until } from './smoke-client.mjs';

const url = (process.argv[2] ?? '').replace(/\/+$/, '');
if (!url) {
  process.stderr.write('usage: node scripts/mod-check.mjs URL\n');
  process.exit(2);
}
const origin = new URL(url).origin;
const say = (line) => process.stdout.write(`[mod-check] ${line}\n`);

async function call(method, path, { cookie, body } = {}) {
  const headers = { origin, 'x-rplace-csrf': '1' };
  if (cookie) headers.cookie = cookie;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json, setCookie: response.headers.getSetCookie?.() ?? [] };
}

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

try {
  const username = `modcheck${Date.now().toString(36)}`;
  const registered = await call('POST', '/api/v1/auth/register', {
    body: { username, password: `pw-${username}-long-enough` },
  });
  expect(
    registered.status === 200 || registered.status === 201,
    `register answered ${registered.status} ${JSON.stringify(registered.json)}`,
  );
  const cookie = registered.setCookie.map((c) => c.split(';')[0]).join('; ');
  say(`registered ${username}`);

  expect(
    (await call('GET', '/api/v1/mod/me', { cookie })).status === 403,
    'a player (not yet a moderator) was not refused',
  );
  const grant = spawnSync(process.execPath, ['bin/rplace.mjs', 'mod', 'grant', username], {
    encoding: 'utf8',
    env: process.env,
  });
  expect(grant.status === 0, `rplace mod grant exited ${grant.status}: ${grant.stderr.trim()}`);
  const me = await call('GET', '/api/v1/mod/me', { cookie });
  expect(me.status === 200 && me.json.username === username, `mod/me answered ${me.status} ${JSON.stringify(me.json)}`);
  say(`granted with 'rplace mod grant': /api/v1/mod/me 200 as ${me.json.username}`);

  const { width, height } = await (await fetch(`${url}/api/v1/canvas/info`)).json();
  const x = Math.floor(Math.random() * (width - 2));
  const y = Math.floor(Math.random() * (height - 2));
  const since = Date.now() - 1;
  // The page's own host (the edge checks Origin against it), as the moderator's browser connects.
  const placed = await placeOverWebSocket(url, { x, y, color: 5, socket: { headers: { cookie, origin } } });
  say(`placed (${x},${y}) as ${username} → seq ${placed.seq}`);

  const selection = { region: { x, y, width: 1, height: 1 }, since };
  // The survey reads the stream: poll until the placement is in it.
  const survey = await until(`the survey of (${x},${y}) lists ${username}`, 10_000, async () => {
    const answer = await call('POST', '/api/v1/mod/survey', { cookie, body: selection });
    return answer.status === 200 && answer.json.users.some((u) => u.username === username) ? answer : undefined;
  });
  say(`survey: ${survey.json.placements} placement(s) by ${survey.json.userCount} user(s) in the pixel`);

  const preview = await call('POST', '/api/v1/mod/preview', { cookie, body: selection });
  expect(
    preview.status === 200 && preview.json.pixels === 1,
    `preview answered ${preview.status} ${JSON.stringify(preview.json).slice(0, 200)}`,
  );
  say(
    `preview: restores ${preview.json.pixels} pixel(s), before/after PNGs ${preview.json.beforePng.length}/${preview.json.afterPng.length} base64 chars`,
  );

  const idempotencyKey = `modcheck-${Date.now()}`;
  const first = await call('POST', '/api/v1/mod/apply', { cookie, body: { selection, idempotencyKey } });
  const again = await call('POST', '/api/v1/mod/apply', { cookie, body: { selection, idempotencyKey } });
  expect(
    first.status === 200 && first.json.applied === 1,
    `apply answered ${first.status} ${JSON.stringify(first.json)}`,
  );
  // The same key again: this edge repeats its first answer; another edge would find every pixel already written.
  expect(
    again.status === 200 && (again.json.repeated === true || again.json.applied === 0),
    `a repeated apply wrote again: ${JSON.stringify(again.json)}`,
  );
  expect(again.json.rollbackId === first.json.rollbackId, 'a repeated apply made another rollback');
  say(
    `apply: ${first.json.applied} pixel(s) restored (rollback ${first.json.rollbackId}); the same key again: repeated=${again.json.repeated}, same rollback`,
  );

  const audit = await call('GET', '/api/v1/mod/audit?limit=20', { cookie });
  expect(
    audit.status === 200 && JSON.stringify(audit.json).includes(first.json.rollbackId),
    `audit answered ${audit.status} without the rollback`,
  );
  say('audit log lists the rollback');

  for (const [method, path] of [
    ['GET', '/api/v1/mod/me'],
    ['POST', '/api/v1/mod/survey'],
    ['POST', '/api/v1/mod/apply'],
    ['GET', '/api/v1/mod/audit'],
  ]) {
    const guest = await call(method, path, { body: method === 'POST' ? selection : undefined });
    expect(guest.status === 403, `a guest got ${guest.status} on ${method} ${path}`);
  }
  say('a guest gets 403 on me, survey, apply and audit');
} catch (error) {
  process.stderr.write(`[mod-check] FAILED: ${error.message}\n`);
  process.exit(1);
}
