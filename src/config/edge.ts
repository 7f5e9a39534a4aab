/** The edge role: the common settings plus its listener, fan-out window, WebSocket limits and the guest-cookie secret. */
import { z } from 'zod';
import { authShape } from './auth.ts';
import { commonShape } from './common.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const edgeSchema = z.object({
  ...commonShape,
  /** Accounts and abuse resistance: origins, guest placement, sessions, per-IP caps, login throttling (src/config/auth.ts). */
  ...authShape,
  PORT: int(0, 65_535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** HMAC key of the signed guest cookie (≥ 32 characters). A secret: no default. */
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)'),
  /** Mark the guest cookie `Secure` (set behind HTTPS). */
  COOKIE_SECURE: z.enum(['0', '1']).default('0'),
  /** Longest time an event waits for its `pixels` frame under load (ms); an idle edge publishes at once. */
  FLUSH_WINDOW_MS: int(1, 1000).default(50),
  /**
   * Latency budget of the adaptive flush window (ms): under load the window grows with the cost of
   * publishing a frame to every socket, up to this (src/domain/edge/flush-window.ts). Equal to
   * FLUSH_WINDOW_MS (or below it): a fixed window.
   */
  FLUSH_WINDOW_MAX_MS: int(1, 1000).default(250),
  /**
   * Live send groups: the whole-canvas sockets split into this many uWS topics, flushed one after another in
   * each window, each group's frame cut just before it is written (src/domain/edge/send-groups.ts). 4: on a quiet
   * machine (BENCHMARKS.md "fanout", 10,000 clients at 3,333/s) it held delivery p99 at 121 and 131 ms against 169
   * and 179 ms with 1, at 1.07 and 1.10× bare uWS's CPU per frame. 1: one frame to every socket at once.
   */
  SEND_GROUPS: int(1, 64).default(4),
  /**
   * The tile window (ms): a zoomed-in socket (`view`) gets at most one `tilePixels` frame per tile this often,
   * each holding every event since; 0: one per published frame. Its edge CPU follows its sends, not its bytes.
   */
  TILE_WINDOW_MS: int(0, 1000).default(200),
  /** Events kept in memory to resume clients without a whole canvas (≈ 13 bytes each). */
  RING_EVENTS: int(1024, 10_000_000).default(65_536),
  /** Bytes uWS may buffer per socket before closing it as too slow (the client resumes on reconnect). */
  WS_MAX_BACKPRESSURE: int(16_384, 256 * 1024 * 1024).default(1024 * 1024),
  /** Seconds without traffic before a socket is closed (uWS pings before that; a multiple of 4, ≥ 8). */
  WS_IDLE_TIMEOUT_S: int(8, 960).default(120),
  /** How long a compressed canvas is reused before the edge compresses a newer one (ms). */
  CANVAS_CACHE_MS: int(0, 60_000).default(1000),
  /** The edge counts as ready when at most this many events behind the stream's end. */
  READY_LAG_EVENTS: int(0, 10_000_000).default(1000),
  /**
   * Replicas that must hold a cooldown before its placement goes on (Redis `WAIT`, pipelined with the acquisition;
   * docs/RELIABILITY.md, "Redis failover"). 0 (default): none, the primary's write alone.
   */
  COOLDOWN_REPLICA_ACKS: int(0, 16).default(0),
  /** Longest a cooldown acquisition waits for COOLDOWN_REPLICA_ACKS (ms); past it the placement goes on, logged. */
  COOLDOWN_REPLICA_WAIT_MS: int(1, 1000).default(50),
  /**
   * While placements flow, how long one may wait for others to share its Redis call and JetStream write (ms;
   * src/adapters/redis/cooldown-store.ts, "the linger"). 0: every loop turn goes alone.
   */
  PLACEMENT_LINGER_MS: int(0, 50).default(2),
  /** How long a placement waits for the log's ack before answering `unavailable`. */
  APPEND_TIMEOUT_MS: int(100, 60_000).default(2000),
  /** Messages a second per socket (sustained; bursts up to WS_MESSAGE_BURST); past it: `rate_limited`, then close 1008. */
  WS_MESSAGES_PER_SECOND: int(1, 100_000).default(20),
  /** Messages a socket may send at once after a quiet spell. */
  WS_MESSAGE_BURST: int(1, 1_000_000).default(60),
  /** Whole-canvas (or ≥ 64 KiB catch-up) sends per socket per minute, the open's included; past it: `rate_limited`, close 1013. */
  WS_RESYNCS_PER_SOCKET_PER_MINUTE: int(1, 100_000).default(6),
  /** The same across every socket of one client address. */
  WS_RESYNCS_PER_IP_PER_MINUTE: int(1, 1_000_000).default(30),
  /** Large (≥ 64 KiB) HTTP responses one address may leave unread at once; past it: 503 `rate_limited`, connection closed. */
  HTTP_MAX_UNREAD_RESPONSES_PER_IP: int(1, 100_000).default(8),
  /** The built browser client (`npm run build:web`), served at `/`. */
  STATIC_DIR: z.string().min(1).default('dist/web'),
  /** `1`: serve the history API on this port too (reads Postgres at DATABASE_URL); `0`: an edge without it. */
  HISTORY_API: z.enum(['0', '1']).default('1'),
});

export type EdgeConfig = z.output<typeof edgeSchema>;
