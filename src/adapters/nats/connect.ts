/**
 * Connecting to NATS: one place that turns "nothing listening" into a `ServiceUnreachable` with a hint,
 * that authenticates as the process's own identity (`NatsAuth`: user + password, an nkey seed file, or a
 * `.creds` file; TLS with a CA for `tls://` servers; its own inbox prefix), and that sets the reconnect policy every role uses
 * (reconnect forever; the roles ride out NATS restarts). Secrets are read here, never logged.
 */
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  createInbox,
  credsAuthenticator,
  nkeyAuthenticator,
  PermissionViolationError,
  usernamePasswordAuthenticator,
  type Authenticator,
} from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ServiceUnreachable } from '../../ports/errors.ts';
import { ConfigError } from '../../ports/errors.ts';

/** How a process authenticates to NATS (this adapter reads the files), from the common settings. */
export interface NatsAuth {
  readonly user?: { readonly name: string; readonly password: string };
  readonly nkeySeedFile?: string;
  readonly credsFile?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** The identity's reply-subject prefix (streams/permissions.ts `natsInboxPrefix`): the only inboxes it may subscribe to. */
  readonly inboxPrefix?: string;
}

let warnedOpen = false;

function readSecret(variable: string, file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw new ConfigError(
      `invalid configuration:\n  ${variable}=${JSON.stringify(file)}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause },
    );
  }
}

function authenticatorOf(auth: NatsAuth): Authenticator | undefined {
  if (auth.user) return usernamePasswordAuthenticator(auth.user.name, auth.user.password);
  if (auth.nkeySeedFile)
    return nkeyAuthenticator(
      new TextEncoder().encode(new TextDecoder().decode(readSecret('NATS_NKEY_SEED_FILE', auth.nkeySeedFile)).trim()),
    );
  if (auth.credsFile) return credsAuthenticator(readSecret('NATS_CREDS_FILE', auth.credsFile));
  return undefined;
}

/**
 * `auth` omitted or empty: an anonymous connection, which a deployment's servers refuse; `logger` then
 * gets one warning per process saying this NATS is unauthenticated and for development only.
 */
export async function connectNats(
  url: string,
  name: string,
  auth: NatsAuth = {},
  logger?: Pick<Logger, 'warn'>,
): Promise<NatsConnection> {
  const authenticator = authenticatorOf(auth);
  if (!authenticator && logger && !warnedOpen) {
    warnedOpen = true;
    logger.warn(
      { nats: url },
      'NATS connection is UNAUTHENTICATED (no NATS_USER/NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE): anyone who reaches this server can write or delete the event log; for development only (see docs/SECURITY.md)',
    );
  }
  try {
    return await connect({
      servers: url.split(',').map((s) => s.trim()),
      name,
      ...(authenticator ? { authenticator } : {}),
      ...(auth.tls ? { tls: { ...auth.tls } } : {}),
      // Requests, JetStream API calls and consumers reply under it; the identity may subscribe nowhere else.
      ...(auth.inboxPrefix ? { inboxPrefix: auth.inboxPrefix } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 5_000,
    });
  } catch (cause) {
    const message = (cause as Error).message;
    const hint = /authori[sz]ation/i.test(message)
      ? ' (check NATS_USER/NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE)'
      : '';
    throw new ServiceUnreachable(`cannot reach NATS at ${url}: ${message}${hint}`, { cause });
  }
}

/**
 * True when NATS refused an operation for lack of permission. nats.js v3 rejects a request to a subject the
 * identity may not publish to with a `RequestError` (JetStream API calls alike) whose `cause` is the
 * `PermissionViolationError`; this looks through such wrappers.
 */
export function isPermissionViolation(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof PermissionViolationError) return true;
  }
  return false;
}

/**
 * A fresh inbox under the connection's `inboxPrefix` (nats.js keeps it in `options`, which the public
 * `NatsConnection` type does not show): hand-written pulls must reply where the identity may subscribe.
 */
export function connectionInbox(nc: NatsConnection): string {
  return createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}

/**
 * The connection's JetStream manager, made on first use and kept once made; a creation that failed is
 * forgotten, so the next call tries again. Why not `jsm ??= jetstreamManager(nc)`: creating one asks the
 * account's JetStream info, which fails while the cluster elects a meta leader; a cached rejected promise
 * then failed every later call for good (the fault suite caught an edge whose tail stopped at the kill of the
 * NATS leader and never resumed: its resize timeline made its first manager mid-election, issue 13).
 */
export function jetStreamManagerOf(nc: NatsConnection): () => Promise<JetStreamManager> {
  let made: Promise<JetStreamManager> | undefined;
  return () => {
    made ??= jetstreamManager(nc).catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
}
