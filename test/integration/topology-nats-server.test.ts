/**
 * The local topology's nats-server choice (deploy/local/nats-server.ts): NATS_SERVER_BIN wins, a binary that does
 * not run is one sentence naming it, and without the override it is the pinned 2.10.27 (the fault suite's).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NatsServerUnavailable, resolveNatsServer } from '../../deploy/local/nats-server.ts';

const root = join(import.meta.dirname, '..', '..');

describe('resolveNatsServer', () => {
  it('runs the pinned 2.10.27 unless NATS_SERVER_BIN says otherwise', () => {
    const pinned = resolveNatsServer(root, {});
    expect(pinned.source).toBe('pinned');
    expect(pinned.path).toBe(join(root, '.cache', 'nats-server', '2.10.27', 'nats-server'));
    expect(pinned.version).toContain('v2.10.27');
    const override = resolveNatsServer(root, { NATS_SERVER_BIN: pinned.path });
    expect(override.source).toBe('NATS_SERVER_BIN');
  });

  it('refuses an override that is not a nats-server with one line naming it', () => {
    const missing = '/nonexistent/nats-server';
    expect(() => resolveNatsServer(root, { NATS_SERVER_BIN: missing })).toThrow(NatsServerUnavailable);
    try {
      resolveNatsServer(root, { NATS_SERVER_BIN: missing });
    } catch (error) {
      expect((error as Error).message).toMatch(/^NATS_SERVER_BIN=\/nonexistent\/nats-server does not run/);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
