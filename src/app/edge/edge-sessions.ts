/**
 * Every WebSocket session of one edge: who may upgrade (shutdown, Origin allow-list, per-address connection
 * cap, identity), the open sessions, and closing them (logout, ban, shutdown). Plain code over ports; the uWS
 * adapter (src/adapters/uws/edge-server.ts) calls it from its `upgrade`/`open`/`close` callbacks.
 *
 * Connection slots: a per-address slot is taken at the upgrade (not the open), so parallel upgrades from one
 * address cannot all pass the cap before any opens. It is released exactly once: when the upgrade is
 * refused or aborted, or when the socket it became closes (`UpgradeTicket.holdsSlot` is the single owner).
 */
import { CloseCode } from '../../../proto/close-codes.ts';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { EdgeAccess } from '../auth/edge-access.ts';
import { asAccountIdentity, type AccountIdentity } from '../auth/identity.ts';
import { jsonError, type HttpResponse } from '../http.ts';
import type { PlacePixel } from '../place-pixel.ts';
import type { CooldownStore } from '../../ports/cooldown.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import { EdgeClientLimits, type ClientLimits } from '../../domain/edge/client-limits.ts';
import {
  EdgeSession,
  type Admitted,
  type ViewRect,
  type EdgeSessionContext,
  type SessionPlace,
} from './edge-session.ts';
import type { SessionSocket } from '../../ports/session-socket.ts';

export interface EdgeSessionsDeps extends Omit<EdgeSessionContext, 'rates' | 'place'> {
  readonly clientLimits: ClientLimits;
  readonly identity: IdentityProvider;
  readonly cooldowns: Pick<CooldownStore, 'remainingMsMany'>;
  /** The placement command, used as is when there is no `access`. */
  readonly placePixel: PlacePixel;
  /** Accounts and abuse resistance (Origin allow-list, per-address caps, guarded placement); absent: guests place freely. */
  readonly access?: EdgeAccess;
}

/** What the adapter copied out of an upgrade request (it is gone after the first await). */
export interface UpgradeRequest {
  readonly headers: { readonly cookie: string; readonly origin: string; readonly host: string };
  /** The resolved client address (`EdgeSessions.clientIp`). */
  readonly ip: string;
  /** The raw `?v=` and `?since=` query values ('' when absent). */
  readonly version: string;
  readonly since: string;
  /** The raw `?view=x,y,width,height` ('' or absent: the whole canvas). */
  readonly view?: string;
}

/** An upgrade that passed the synchronous checks and may hold a connection slot (kept for the socket's life: small). */
export interface UpgradeTicket {
  readonly ip: string;
  readonly since: number | null;
  readonly version: number | null;
  /** `?view=`: start in viewport mode with this rectangle (absent: the whole canvas). */
  readonly view?: ViewRect | null;
  /** True while this upgrade (and then its socket) owns one of its address's connection slots. */
  holdsSlot: boolean;
}

export type Admission =
  | { readonly ok: true; readonly ticket: UpgradeTicket }
  | { readonly ok: false; readonly refusal: HttpResponse };
export type Identified =
  | { readonly ok: true; readonly admitted: Admitted; readonly setCookie?: string }
  | { readonly ok: false; readonly refusal: HttpResponse };

/** Cooldowns read in one store call at most (one Lua script's keys). */
const MAX_COOLDOWN_READ = 1_000;

const SINCE = /^\d{1,16}$/;
const VERSION = /^\d{1,4}$/;

/** `?since=` as a sequence; null when absent or not a safe integer. */
export function parseSince(text: string): number | null {
  return SINCE.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
}

const VIEW = /^(\d{1,5}),(\d{1,5}),(\d{1,5}),(\d{1,5})$/;

/** `?view=x,y,width,height` as a rectangle; null when absent or malformed (then: the whole canvas). */
export function parseView(text: string): ViewRect | null {
  const m = VIEW.exec(text);
  if (!m) return null;
  const [x, y, width, height] = m.slice(1).map(Number) as [number, number, number, number];
  return x <= 65_535 && y <= 65_535 && width >= 1 && height >= 1 ? { x, y, width, height } : null;
}

/** `?v=` as a protocol version; null when absent or malformed. */
export function parseVersion(text: string): number | null {
  return VERSION.test(text) ? Number(text) : null;
}

export class EdgeSessions {
  readonly #deps: EdgeSessionsDeps;
  readonly #context: EdgeSessionContext;
  /**
   * Open sessions. The upgrade's connection slot moves onto its session (`holdsSlot`), so nothing of the
   * upgrade stays behind per socket (a Set entry and a flag instead of a Map entry and the ticket: issue 14).
   */
  readonly #open = new Set<EdgeSession>();
  #closing = false;
  /**
   * Sessions opened in this loop turn whose cooldown is still to be read: read for all of them in one store call
   * in the next turn (`readCooldowns`), so no promise or command is held per socket across the round trip.
   */
  #awaitingCooldown: { session: EdgeSession; socket: SessionSocket; admitted: Admitted }[] = [];

  constructor(deps: EdgeSessionsDeps) {
    this.#deps = deps;
    const access = deps.access;
    const place: SessionPlace = access
      ? (account, ip, request) => access.place(account, ip, request)
      : (account, _ip, request) => deps.placePixel({ ...request, userId: account.userId });
    this.#context = { ...deps, rates: new EdgeClientLimits(deps.clientLimits), place };
  }

  get closing(): boolean {
    return this.#closing;
  }

  get size(): number {
    return this.#open.size;
  }

  /** The client address for per-address limits: what `access` resolves (trusted proxies), '' without it. */
  clientIp(peer: string, header: (name: string) => string | undefined): string {
    return this.#deps.access?.clientIp(peer, header) ?? '';
  }

  /** The synchronous upgrade checks, in order: shutting down (503), Origin (403), connection cap (429). */
  admit(request: UpgradeRequest): Admission {
    if (this.#closing) return { ok: false, refusal: { status: 503, body: 'edge shutting down' } };
    let holdsSlot = false;
    const access = this.#deps.access;
    if (access) {
      const badOrigin = access.checkOrigin(request.headers);
      if (badOrigin !== null) return { ok: false, refusal: jsonError(ErrorCode.forbidden, badOrigin) };
      if (!access.connections.acquire(request.ip))
        return { ok: false, refusal: jsonError(ErrorCode.rate_limited, 'too many connections from your address') };
      holdsSlot = true;
    }
    const view = parseView(request.view ?? '');
    return {
      ok: true,
      ticket: {
        ip: request.ip,
        since: parseSince(request.since),
        version: parseVersion(request.version),
        ...(view ? { view } : {}),
        holdsSlot,
      },
    };
  }

  /**
   * Who the upgrade is (401 when nobody, and its slot released). Never rejects. The cooldown for `welcome` is
   * read after the upgrade (`open`), not here: an upgrade that waited on that store round trip kept its request,
   * response and closures alive across it, and a burst of reconnecting players left that much garbage promoted
   * per connection (3.0 KiB of RSS each against 1.1 for new guests, BENCHMARKS "fanout"). A guest minted just
   * now has no cooldown at all (0, no read).
   */
  async identify(ticket: UpgradeTicket, headers: UpgradeRequest['headers']): Promise<Identified> {
    const who = await this.#deps.identity.identify(headers).catch(() => null);
    if (!who) return { ok: false, refusal: jsonError(ErrorCode.unauthorized, 'no identity') };
    const admitted: Admitted = {
      account: asAccountIdentity(who.identity),
      ip: ticket.ip,
      since: ticket.since,
      version: ticket.version,
      ...(ticket.view ? { view: ticket.view } : {}),
      cooldownRemaining: who.minted === true ? 0 : null,
    };
    return { ok: true, admitted, ...(who.setCookie ? { setCookie: who.setCookie } : {}) };
  }

  /**
   * Gives back the connection slot of an upgrade (refused, aborted) or of the session it moved to (closed), if it
   * still holds one; idempotent.
   */
  release(holder: { holdsSlot: boolean; readonly ip: string }): void {
    if (!holder.holdsSlot) return;
    holder.holdsSlot = false;
    this.#deps.access?.connections.release(holder.ip);
  }

  /**
   * The upgraded socket opened: its session is counted, handed to `attach` (which stores it where the
   * transport's close callback finds it), then served (welcome, catch-up). `attach` runs first because the
   * transport may report the close inside this call: uWS `end` emits `close` synchronously, and a socket
   * refused at its open (protocol version, whole-canvas budget) is ended right here. A cooldown not read yet
   * (`cooldownRemaining` null) is read first (0 when the store fails: the placement itself will say), and the
   * session is served once it arrives, in the socket's cork, unless the socket closed meanwhile.
   */
  open(
    socket: SessionSocket,
    admitted: Admitted,
    ticket: UpgradeTicket,
    attach: (session: EdgeSession) => void,
  ): EdgeSession {
    const session = new EdgeSession(this.#context, socket, admitted);
    session.holdsSlot = ticket.holdsSlot;
    ticket.holdsSlot = false;
    this.#open.add(session);
    this.#deps.metrics.connections(this.#open.size);
    attach(session);
    if (admitted.cooldownRemaining !== null) session.open(admitted);
    else {
      if (this.#awaitingCooldown.length === 0) setImmediate(() => this.#readCooldowns());
      this.#awaitingCooldown.push({ session, socket, admitted });
    }
    return session;
  }

  /** Reads the cooldowns of the sessions waiting for one (0 each when the store fails), then serves them. */
  #readCooldowns(): void {
    const waiting = this.#awaitingCooldown;
    this.#awaitingCooldown = [];
    for (let from = 0; from < waiting.length; from += MAX_COOLDOWN_READ) {
      const part = waiting.slice(from, from + MAX_COOLDOWN_READ);
      void this.#deps.cooldowns
        .remainingMsMany(part.map((w) => w.admitted.account.userId))
        .catch(() => part.map(() => 0))
        .then((remaining) => {
          part.forEach(({ session, socket, admitted }, i) => {
            if (session.isClosed) return;
            const cooldownRemaining = Math.ceil((remaining[i] ?? 0) / 1000);
            socket.cork(() => session.open({ ...admitted, cooldownRemaining }));
          });
        });
    }
  }

  /** The session's socket closed: it stops, its slot is released, and an abnormal close counts its frames as dropped. */
  closed(session: EdgeSession, code: number, reason: string): void {
    session.closed(code, reason);
    this.release(session);
    this.#open.delete(session);
    this.#deps.metrics.connections(this.#open.size);
    if (code === 1006) this.#deps.metrics.frameDropped('closed');
  }

  /** Closes every session whose identity matches (logout: by session; ban: by user); returns how many. */
  closeWhere(matches: (identity: AccountIdentity) => boolean, code: number, reason: string): number {
    let closed = 0;
    for (const session of [...this.#open]) {
      if (matches(session.account)) {
        session.end(code, reason);
        closed++;
      }
    }
    return closed;
  }

  /** Closes every session that shows a viewport (after a resize: their tile grid is gone); returns how many. */
  closeViewers(code: number, reason: string): number {
    let closed = 0;
    for (const session of [...this.#open]) {
      if (session.view !== null) {
        session.end(code, reason);
        closed++;
      }
    }
    return closed;
  }

  /** Refuses new upgrades from now on and closes every session with 1001; idempotent (false when already closing). */
  shutdown(): boolean {
    if (this.#closing) return false;
    this.#closing = true;
    for (const session of [...this.#open]) session.end(CloseCode.GoingAway, 'edge shutting down');
    return true;
  }

  /** One live frame of `events` events went to the live topic. */
  published(events: number): void {
    this.#deps.metrics.frameSent('pixels_topic');
    this.#deps.metrics.published(events);
  }
}
