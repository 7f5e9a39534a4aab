/**
 * Who may do what on NATS, written once as data: one identity per role, each with exactly the subjects its
 * code publishes and subscribes to. `natsAuthorization` turns it into the `authorization { users = [...] }`
 * block of a nats-server config (nats-server ≥ 2.2: users with passwords or nkeys, per-user permissions,
 * `allow_responses`); `npm run topology` (deploy/local/topology.ts), the k8s and compose configs and the
 * tests all use it, so the deployed permissions are the tested ones. Anonymous connections are refused
 * because the block lists users and sets no `no_auth_user`.
 *
 * What each role's code needs (src/adapters/nats/):
 * - reading the stream (every role: edge tail pixel-tail.ts, ordered consumers event-stream.ts, durables
 *   projection-source.ts): `$JS.API.INFO`, `STREAM.INFO.<stream>`, `CONSUMER.CREATE|INFO|DELETE|MSG.NEXT`
 *   on the canvas stream, replies on the role's own inbox prefix (`natsInboxPrefix`). Not the projections'
 *   durables of other roles: an edge that pulled from `bitmap-projector` would steal its deliveries.
 * - edge: publishes placements `rplace.<c>.px.*.*` (event-log.ts; PubAcks come back on its inbox), the
 *   revocation of a session it logged out `rplace-ctl.<c>.revoke.session`, and, for the moderator console it
 *   serves, moderation events `rplace.<c>.mod.*.*` and bans as `revoke.user`; hears every revocation and the
 *   status request; answers it (`allow_responses`).
 * - projectors: their own durable (create, pull, ack on `$JS.ACK.<stream>.<durable>.>`); status answers.
 * - operator (`rplace` CLI, migrations, `streams apply`): the whole JetStream API (create, update, delete
 *   streams), moderation events `rplace.<c>.mod.*.*`, canvas resizes `rplace.<c>.ops.resize` (no other identity
 *   may: a resize changes every projection), every control subject (status requests, bans as `revoke.user`).
 *   It never places pixels.
 * Replies: each identity connects with its own `inboxPrefix` and may subscribe only under it, so no identity
 * reads another's JetStream API answers, pulled messages, PubAcks or status replies (a shared `_INBOX.>`
 * would let it). Nobody publishes to an inbox except as `allow_responses` (one reply per request received).
 * Nobody but the operator can create, update, purge or delete a stream; `deny_delete`/`deny_purge` on the
 * stream (streams/definitions.ts) stop message deletes even for it.
 */
import type { Names } from '../src/domain/names.ts';

export const NATS_ROLES = ['operator', 'edge', 'bitmap-projector', 'history'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

export interface SubjectRules {
  readonly allow: readonly string[];
  readonly deny?: readonly string[];
}

export interface RolePermissions {
  readonly publish: SubjectRules;
  readonly subscribe: SubjectRules;
  /** May publish one reply to the reply subject of each request it received (status answers). */
  readonly allow_responses?: boolean;
}

/** The user name a role connects as, for a canvas (`rplace-<canvas>-<role>`). */
export function natsUserOf(role: NatsRole, names: Names): string {
  return `rplace-${names.canvasId}-${role}`;
}

/**
 * The reply-subject prefix a role's connections use (nats.js `inboxPrefix`: `<prefix>.<nuid>…`): one subject
 * token per identity (user names have no dots; canvas ids no hyphens, so no identity's prefix is another's).
 */
export function natsInboxPrefix(role: NatsRole, names: Names): string {
  return `_INBOX.${natsUserOf(role, names)}`;
}

const inboxOf = (role: NatsRole, names: Names): string => `${natsInboxPrefix(role, names)}.>`;

/** Every JetStream API call a reader of the canvas stream makes, minus the durables it does not own. */
function streamReader(names: Names, ownDurable: string | null): { allow: string[]; deny: string[] } {
  const api = '$JS.API';
  const s = names.stream;
  const allow = [
    `${api}.INFO`,
    `${api}.STREAM.INFO.${s}`,
    // The resizes, one by one (src/adapters/nats/resize-timeline.ts): a read of messages every reader already sees.
    `${api}.STREAM.MSG.GET.${s}`,
    // nats.js v3 names ephemeral consumers (CREATE.<stream>.<name>[.<filter>]) and durables alike.
    `${api}.CONSUMER.CREATE.${s}.>`,
    `${api}.CONSUMER.INFO.${s}.*`,
    `${api}.CONSUMER.DELETE.${s}.*`,
    `${api}.CONSUMER.MSG.NEXT.${s}.*`,
  ];
  if (ownDurable !== null)
    allow.push(`${api}.CONSUMER.DURABLE.CREATE.${s}.${ownDurable}`, `$JS.ACK.${s}.${ownDurable}.>`);
  const deny = Object.values(names.consumers)
    .filter((durable) => durable !== ownDurable)
    .flatMap((durable) => [
      `${api}.CONSUMER.CREATE.${s}.${durable}`,
      `${api}.CONSUMER.CREATE.${s}.${durable}.>`,
      `${api}.CONSUMER.DURABLE.CREATE.${s}.${durable}`,
      `${api}.CONSUMER.DELETE.${s}.${durable}`,
      `${api}.CONSUMER.MSG.NEXT.${s}.${durable}`,
    ]);
  return { allow, deny };
}

export function rolePermissions(role: NatsRole, names: Names): RolePermissions {
  const { status, revokeSession, revokeAll } = names.control;
  switch (role) {
    case 'operator':
      return {
        publish: {
          allow: ['$JS.API.>', names.moderationSubjects, names.resizeSubject, `rplace-ctl.${names.canvasId}.>`],
        },
        subscribe: { allow: [inboxOf(role, names)] },
      };
    case 'edge': {
      const reader = streamReader(names, null);
      return {
        // Moderation events and user revocations: the moderator console runs on the edge (each request re-checks the
        // moderator role in Postgres). A compromised edge could already place as anyone; docs/SECURITY.md says so.
        publish: {
          allow: [
            ...reader.allow,
            names.placementSubjects,
            names.moderationSubjects,
            revokeSession,
            names.control.revokeUser,
          ],
          deny: reader.deny,
        },
        subscribe: { allow: [inboxOf(role, names), status, revokeAll] },
        allow_responses: true,
      };
    }
    case 'bitmap-projector':
    case 'history': {
      const reader = streamReader(names, role === 'history' ? names.consumers.history : names.consumers.bitmap);
      return {
        publish: { allow: reader.allow, deny: reader.deny },
        subscribe: { allow: [inboxOf(role, names), status] },
        allow_responses: true,
      };
    }
  }
}

/**
 * A role's secret: a password; the name of the nats-server's environment variable holding it (deployments:
 * the password comes from a Secret, the permissions stay readable config); or its nkey's public key (the
 * role holds the seed, NATS_NKEY_SEED_FILE).
 */
export type NatsSecret = { readonly password: string } | { readonly passwordEnv: string } | { readonly nkey: string };

const ENV_MARK = '\u0000env:';

/** The value of nats-server's `authorization` for a canvas: one user per role given a secret. */
export function natsAuthorization(
  names: Names,
  secrets: Partial<Readonly<Record<NatsRole, NatsSecret>>>,
): { users: object[] } {
  return {
    users: NATS_ROLES.filter((role) => secrets[role] !== undefined).map((role) => {
      const secret = secrets[role] as NatsSecret;
      const permissions = rolePermissions(role, names);
      const credentials =
        'nkey' in secret
          ? { nkey: secret.nkey }
          : {
              user: natsUserOf(role, names),
              password: 'password' in secret ? secret.password : `${ENV_MARK}${secret.passwordEnv}`,
            };
      return { ...credentials, permissions };
    }),
  };
}

/**
 * The `authorization { … }` block as nats-server config text. JSON is valid nats-server config, and quoted
 * strings are never read as `$variables`, so `$JS.API.>` stays a subject; a `passwordEnv` secret is written
 * unquoted (`password: $NAME`), which nats-server resolves from its environment.
 */
export function natsAuthorizationConfig(
  names: Names,
  secrets: Partial<Readonly<Record<NatsRole, NatsSecret>>>,
): string {
  const json = JSON.stringify(natsAuthorization(names, secrets), null, 2);
  return `authorization: ${json.replace(/"\\u0000env:([A-Z0-9_]+)"/g, '$$$1')}\n`;
}

/** The environment variable a deployment's nats-server reads a role's password from. */
export function natsPasswordEnv(role: NatsRole): string {
  return `RPLACE_NATS_${role.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}
