/**
 * Accounts and abuse-resistance settings, spread into the edge's schema (`...authShape`).
 * Defaults suit a public deployment: guests watch, placing needs an account. The single-machine demo
 * (`npm start`) sets ALLOW_GUEST_PLACEMENT=1 unless the environment says otherwise, so the browser client
 * works without a login form; every other limit keeps its default there.
 */
import { z } from 'zod';
import { proxyPolicy } from '../app/auth/client-address.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A comma-separated list, items trimmed, empty ones dropped; unset or empty: none. */
const commaList = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    );

export const authShape = {
  /**
   * Comma-separated origins (`https://place.example`) allowed to open WebSockets and send state-changing
   * requests, besides the edge's own origin (same host as the request), which is always allowed.
   */
  ALLOWED_ORIGINS: commaList().pipe(
    z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin must look like https://host[:port]')).max(64),
  ),
  /** Let guests place pixels (demos). Off by default: placing requires an account. */
  ALLOW_GUEST_PLACEMENT: z.enum(['0', '1']).default('0'),
  /**
   * With guest placement on, guests also share one cooldown per client address (dropping the guest cookie
   * must not escape the cooldown). `0` only for load generators that run many guests from one address.
   */
  GUEST_COOLDOWN_PER_IP: z.enum(['0', '1']).default('1'),
  SESSION_TTL_SECONDS: int(60, 90 * 86_400).default(7 * 86_400),
  /** Concurrent WebSocket connections per client address, per edge. */
  WS_MAX_CONNECTIONS_PER_IP: int(1, 100_000).default(20),
  /** Placement attempts per client address per minute (all users behind it; NAT-friendly default). */
  PLACE_ATTEMPTS_PER_IP_PER_MINUTE: int(1, 1_000_000).default(120),
  /** Placement attempts per user per 10 minutes before the risk rule is asked about a challenge. */
  PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: int(1, 1_000_000).default(30),
  /** Accounts younger than this are challenged when they exceed the attempt budget. */
  RISK_MIN_ACCOUNT_AGE_HOURS: int(0, 10_000).default(24),
  /**
   * Login attempts per account per 15 minutes from anywhere (counted before the password is checked); past
   * it a login must carry a solved proof-of-work (never a lockout of the owner).
   */
  LOGIN_ATTEMPTS_PER_ACCOUNT: int(1, 1_000_000).default(10),
  /** Login attempts per account per 15 minutes from one address; past it that address is refused. */
  LOGIN_ATTEMPTS_PER_ACCOUNT_PER_IP: int(1, 1_000_000).default(5),
  /** Login attempts per client address per 15 minutes. */
  LOGIN_ATTEMPTS_PER_IP: int(1, 1_000_000).default(100),
  /** Registrations per client address per hour. */
  REGISTRATIONS_PER_IP_PER_HOUR: int(1, 1_000_000).default(10),
  /** What a tripped risk check asks for: `pow` (built-in proof-of-work over HTTP) or `none` (slow down). */
  CHALLENGE: z.enum(['pow', 'none']).default('pow'),
  /** Leading zero bits the proof-of-work needs (each bit doubles the client's work; 18 ≈ 0.3 s of SHA-256 in a browser). */
  POW_DIFFICULTY: int(1, 32).default(18),
  /** How long a passed challenge clears the user (seconds). */
  POW_CLEAR_SECONDS: int(60, 86_400).default(3600),
  /** Proof-of-work challenges one client address may fetch per minute (each user has at most one outstanding). */
  POW_CHALLENGES_PER_IP_PER_MINUTE: int(1, 1_000_000).default(20),
  /**
   * Reverse proxies (comma-separated CIDRs or addresses) whose forwarding headers are believed. Empty: none,
   * the socket's peer is the client. See src/app/auth/client-address.ts for how the address is resolved.
   */
  TRUSTED_PROXIES: commaList()
    .pipe(z.array(z.string().max(64)).max(256))
    .superRefine((entries, ctx) => {
      try {
        proxyPolicy(entries);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /**
   * A header the trusted proxy OVERWRITES with the client's address (nginx: `proxy_set_header X-Real-IP
   * $remote_addr`). Unset: the right-most `X-Forwarded-For` entry that is not a trusted proxy.
   */
  CLIENT_ADDRESS_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name such as X-Real-IP')
    .optional(),
  /** Replaced by TRUSTED_PROXIES: trusting the first X-Forwarded-For entry let every client pick its address. */
  TRUST_PROXY: z
    .undefined({
      message:
        'TRUST_PROXY is gone: list your proxies in TRUSTED_PROXIES (CIDRs), optionally with CLIENT_ADDRESS_HEADER',
    })
    .optional(),
};

export const authSchema = z.object(authShape);
export type AuthConfig = z.output<typeof authSchema>;
