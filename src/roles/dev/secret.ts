/**
 * Production roles require SESSION_SECRET (no default). The dev entry generates one once into
 * `<DATA_DIR>/session-secret` (mode 0600) so sessions survive restarts of `npm start`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function devSessionSecret(file: string): { secret: string; created: boolean } {
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return { secret, created: false };
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, created: true };
}
