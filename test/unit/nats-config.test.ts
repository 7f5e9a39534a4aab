/**
 * The NATS identity settings (src/config/common.ts `natsAuthOf`) and the permissions as data
 * (streams/permissions.ts): contradicting settings name their variables; only the operator may touch the
 * stream's administration or moderation subjects; no role but the operator has a wildcard over the JetStream API.
 */
import { describe, expect, it } from 'vitest';
import { commonSchema, natsAuthOf } from '../../src/config/common.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/ports/errors.ts';
import { namesFor } from '../../src/domain/names.ts';
import { natsAuthorizationConfig, rolePermissions, type NATS_ROLES } from '../../streams/permissions.ts';

const auth = (env: Record<string, string>) => natsAuthOf(loadConfig(commonSchema, env));

describe('natsAuthOf', () => {
  it('reads a user and password, an nkey seed file or a creds file, and TLS for tls:// servers', () => {
    expect(auth({})).toEqual({});
    expect(auth({ NATS_USER: 'u', NATS_PASSWORD: 'p' })).toEqual({ user: { name: 'u', password: 'p' } });
    expect(auth({ NATS_NKEY_SEED_FILE: '/run/seed' })).toEqual({ nkeySeedFile: '/run/seed' });
    expect(auth({ NATS_CREDS_FILE: '/run/x.creds' })).toEqual({ credsFile: '/run/x.creds' });
    expect(auth({ NATS_URL: 'tls://n1:4222,tls://n2:4222', NATS_TLS_CA: '/ca.pem' })).toEqual({
      tls: { caFile: '/ca.pem' },
    });
  });

  it('refuses contradicting settings, naming the variables', () => {
    expect(() => auth({ NATS_USER: 'u' })).toThrow(ConfigError);
    expect(() => auth({ NATS_PASSWORD: 'p' })).toThrow(/NATS_USER, NATS_PASSWORD: set both or neither/);
    expect(() => auth({ NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_CREDS_FILE: '/c' })).toThrow(/choose one way/);
    expect(() => auth({ NATS_TLS_CERT: '/c.pem' })).toThrow(/NATS_TLS_CERT, NATS_TLS_KEY/);
    expect(() => auth({ NATS_TLS_CA: '/ca.pem' })).toThrow(/must be a tls:\/\/ URL/);
  });
});

describe('rolePermissions', () => {
  const names = namesFor('main');
  const publishes = (role: (typeof NATS_ROLES)[number]) => rolePermissions(role, names).publish.allow;

  it('leaves stream administration to the operator, and moderation to the operator and the edge (its console)', () => {
    expect(publishes('operator')).toEqual(
      expect.arrayContaining(['$JS.API.>', 'rplace.main.mod.>', 'rplace.main.ops.resize']),
    );
    for (const role of ['edge', 'bitmap-projector', 'history'] as const) {
      for (const subject of publishes(role)) {
        // STREAM.MSG.GET only reads (the resizes, src/adapters/nats/resize-timeline.ts); MSG.DELETE would write.
        expect(subject, role).not.toMatch(/^\$JS\.API\.(>|STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG\.DELETE))/);
        expect(subject, role).not.toMatch(/^rplace\.main\.(ops|>)/); // the resize subject: the operator's alone
        expect(subject, role).not.toMatch(/\.status$|^rplace-ctl\.main\.>$/);
        if (role !== 'edge') expect(subject, role).not.toMatch(/\.mod\.|revoke\.user/);
      }
    }
    expect(publishes('edge')).toEqual(
      expect.arrayContaining(['rplace.main.px.>', 'rplace.main.mod.>', 'rplace-ctl.main.revoke.user']),
    );
    expect(publishes('bitmap-projector').some((s) => s.startsWith('rplace.'))).toBe(false);
  });

  it('denies every role the durables of the other projections', () => {
    expect(rolePermissions('edge', names).publish.deny).toEqual(
      expect.arrayContaining([
        '$JS.API.CONSUMER.MSG.NEXT.RPLACE_main.bitmap-projector',
        '$JS.API.CONSUMER.DELETE.RPLACE_main.history-projector',
      ]),
    );
    expect(rolePermissions('bitmap-projector', names).publish.deny).toContain(
      '$JS.API.CONSUMER.MSG.NEXT.RPLACE_main.history-projector',
    );
    expect(rolePermissions('bitmap-projector', names).publish.deny).not.toContain(
      '$JS.API.CONSUMER.MSG.NEXT.RPLACE_main.bitmap-projector',
    );
    expect(rolePermissions('history', names).publish.allow).toContain('$JS.ACK.RPLACE_main.history-projector.>');
  });

  it('writes env-var passwords unquoted, literal ones quoted, and never a no_auth_user', () => {
    const text = natsAuthorizationConfig(names, { edge: { passwordEnv: 'EDGE_PW' }, operator: { password: 'x$y' } });
    expect(text).toContain('"password": $EDGE_PW');
    expect(text).toContain('"password": "x$y"');
    expect(text).not.toContain('no_auth_user');
  });
});
