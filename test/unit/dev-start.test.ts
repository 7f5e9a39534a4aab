import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { devSessionSecret } from '../../src/roles/dev/secret.ts';
import { needsWebBuild } from '../../src/roles/dev/web-build.ts';

const dir = mkdtempSync(join(tmpdir(), 'rplace-dev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start helpers', () => {
  it('builds the web client when dist is missing or older than its sources, not otherwise', () => {
    expect(needsWebBuild(1000, null)).toBe(true);
    expect(needsWebBuild(1000, 999)).toBe(true);
    expect(needsWebBuild(1000, 1000)).toBe(false);
    expect(needsWebBuild(null, null)).toBe(false);
  });

  it('generates the dev session secret once, private to the owner, and reuses it', () => {
    const file = join(dir, 'data', 'session-secret');
    const first = devSessionSecret(file);
    expect(first.created).toBe(true);
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(devSessionSecret(file)).toEqual({ secret: first.secret, created: false });
    writeFileSync(file, 'short');
    const replaced = devSessionSecret(file);
    expect(replaced.created).toBe(true);
    expect(readFileSync(file, 'utf8').trim()).toBe(replaced.secret);
  });
});
