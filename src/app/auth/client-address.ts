/**
 * The client address every per-IP limit counts, behind zero or more reverse proxies.
 *
 * Only a peer in `TRUSTED_PROXIES` may speak for the client. Then:
 * - with `CLIENT_ADDRESS_HEADER` (e.g. `x-real-ip`, which the shipped nginx OVERWRITES with `$remote_addr`),
 *   that header is the address: the proxy replaced whatever the client sent;
 * - otherwise `X-Forwarded-For` is read from the right: each trusted proxy appends the address it saw, so
 *   the right-most entry that is not itself a trusted proxy is the first hop nobody we trust vouches past.
 *   Entries left of it were written by the client and are never read, so a spoofed
 *   `X-Forwarded-For: 1.2.3.4` changes nothing.
 * A peer that is not trusted is the client, whatever headers it sends. A header that is missing, too long
 * or not an IP address falls back to the last address we could vouch for (the peer, or the last trusted hop):
 * never to a value the client chose.
 */
import { BlockList, isIP } from 'node:net';

export interface ProxyPolicy {
  /** The trusted proxies; empty: no proxy is trusted and the socket's peer is always the client. */
  readonly trusted: BlockList;
  readonly hasTrusted: boolean;
  /** A header the trusted proxy overwrites with the client's address (lower-case), or null for X-Forwarded-For. */
  readonly header: string | null;
}

/** Longest forwarding header read (a few dozen hops); longer ones are not parsed. */
const MAX_HEADER = 2048;
const MAX_HOPS = 32;
const MAPPED_V4 = /^(?:0{0,4}:){0,5}(?::)?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `::ffff:1.2.3.4` (how a dual-stack socket reports an IPv4 peer) → `1.2.3.4`; anything else trimmed and lower-cased. */
export function normaliseAddress(address: string): string {
  const trimmed = address.trim().toLowerCase();
  const mapped = MAPPED_V4.exec(trimmed);
  return mapped ? (mapped[1] as string) : trimmed;
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address; throws a RangeError naming the bad entry. */
function addEntry(list: BlockList, entry: string): void {
  const [address = '', prefixText] = entry.split('/');
  const ip = normaliseAddress(address);
  const family = isIP(ip);
  if (family === 0) throw new RangeError(`${entry} is not an IP address or CIDR`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) {
    list.addAddress(ip, type);
    return;
  }
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128))
    throw new RangeError(`${entry}: bad prefix length`);
  list.addSubnet(ip, prefix, type);
}

export function proxyPolicy(trustedProxies: readonly string[], header: string | null = null): ProxyPolicy {
  const trusted = new BlockList();
  for (const entry of trustedProxies) addEntry(trusted, entry);
  return {
    trusted,
    hasTrusted: trustedProxies.length > 0,
    header: header === null || header === '' ? null : header.toLowerCase(),
  };
}

function isTrusted(policy: ProxyPolicy, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && policy.trusted.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client address of a request whose socket peer is `remoteAddress`. `header(name)` reads a request
 * header by lower-case name (`''` or undefined when absent).
 */
export function resolveClientAddress(
  policy: ProxyPolicy,
  remoteAddress: string,
  header: (name: string) => string | undefined,
): string {
  const peer = normaliseAddress(remoteAddress);
  if (!policy.hasTrusted || !isTrusted(policy, peer)) return peer;
  if (policy.header !== null) {
    const value = normaliseAddress(header(policy.header) ?? '');
    return value.length <= 64 && isIP(value) !== 0 ? value : peer;
  }
  const forwarded = header('x-forwarded-for') ?? '';
  if (forwarded === '' || forwarded.length > MAX_HEADER) return peer;
  const hops = forwarded.split(',');
  let vouched = peer;
  for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
    const hop = normaliseAddress(hops[i] as string);
    if (isIP(hop) === 0) return vouched;
    if (!isTrusted(policy, hop)) return hop;
    vouched = hop;
  }
  return vouched;
}
