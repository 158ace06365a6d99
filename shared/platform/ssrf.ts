// The SSRF guard for callback URLs: http(s) only, and only public unicast addresses after DNS, unless allowlisted.
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export class UnsafeUrlError extends Error {
  override name = 'UnsafeUrlError';
}

/** The host did not resolve in time: the URL is refused now, but a later attempt may succeed. */
export class LookupTimeoutError extends UnsafeUrlError {
  override name = 'LookupTimeoutError';
  /** The code `dns` gives its own timeouts. */
  readonly code = 'ETIMEOUT';
}

/**
 * How long a host name may take to resolve before its URL is refused, so a hanging resolver cannot hang an API
 * request or a delivery. The system resolver cannot be cancelled: a timed-out lookup still holds a libuv thread until
 * the resolver gives up by itself, but nothing waits for it.
 */
export const DNS_TIMEOUT_MS = 2000;

export interface GuardOptions {
  /** How long a lookup may take before the URL is refused. @defaultValue {@link DNS_TIMEOUT_MS} */
  dnsTimeoutMs?: number;
}

export type LookupAll = (hostname: string) => Promise<LookupAddress[]>;

export const systemLookupAll: LookupAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** Hosts and ranges exempt from the guard; parsed once, from the configuration (CALLBACK_ALLOWED_HOSTS). */
export interface Allowlist {
  /** The entries as configured. */
  entries: readonly string[];
  hosts: Set<string>;
  cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

/** Parses `CALLBACK_ALLOWED_HOSTS` entries: host names, IP addresses or CIDR ranges; throws on a malformed range. */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  const allow: Allowlist = { entries: [...entries], hosts: new Set(), cidrs: [] };
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (entry.includes('/')) allow.cidrs.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) allow.cidrs.push([ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128]);
    else allow.hosts.add(entry);
  }
  return allow;
}

const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/** An IPv4 address carried inside an IPv6 one, and the transition mechanism that carries it. */
interface Embedded {
  form: string;
  ipv4: ipaddr.IPv4;
}

/**
 * The IPv4 address inside an IPv6 address, for the forms that lead to it: IPv4-mapped (::ffff:0:0/96),
 * IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16, bits 16–47) and the deprecated
 * IPv4-compatible (::/96; `::` and `::1` stay themselves). The forms not unwrapped here stay outside the unicast range
 * and so are refused: the local-use NAT64 prefix 64:ff9b:1::/48 (where the IPv4 sits depends on the prefix length the
 * operator chose, which cannot be known from here) and Teredo (2001::/32: a client behind a NAT reached through relays
 * nobody here controls, with two IPv4 addresses in it — no callback receiver belongs there; allowlist it if one does).
 */
function embeddedIPv4(ip: ipaddr.IPv6): Embedded | undefined {
  const bytes = ip.toByteArray();
  const at = (offset: number) => new ipaddr.IPv4(bytes.slice(offset, offset + 4));
  switch (ip.range()) {
    case 'ipv4Mapped':
      return { form: 'IPv4-mapped', ipv4: at(12) };
    case 'rfc6145':
      return { form: 'IPv4-translated', ipv4: at(12) };
    case 'rfc6052':
      return ip.match(NAT64_WELL_KNOWN) ? { form: 'NAT64', ipv4: at(12) } : undefined;
    case '6to4':
      return { form: '6to4', ipv4: at(2) };
    case 'unicast':
      return ip.match(IPV4_COMPATIBLE) ? { form: 'IPv4-compatible', ipv4: at(12) } : undefined;
    default:
      return undefined;
  }
}

function allowedByCidr(address: ipaddr.IPv4 | ipaddr.IPv6, allow: Allowlist): boolean {
  return allow.cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/** Why an address is not public, or undefined when it is: an IPv6 form carrying IPv4 is judged by that IPv4. */
function problem(address: string, allow: Allowlist): string | undefined {
  const ip = ipaddr.parse(address);
  if (allowedByCidr(ip, allow)) return undefined;
  const embedded = ip.kind() === 'ipv6' ? embeddedIPv4(ip as ipaddr.IPv6) : undefined;
  if (embedded) {
    const range = embedded.ipv4.range();
    if (range === 'unicast' || allowedByCidr(embedded.ipv4, allow)) return undefined;
    return `${embedded.form} ${embedded.ipv4.toString()}, ${range}`;
  }
  const range = ip.range();
  return range === 'unicast' ? undefined : range;
}

/**
 * Only plain public unicast addresses are reachable: loopback, private, link-local (and so cloud metadata at
 * 169.254.169.254), CGNAT, unique-local, multicast and reserved ranges are refused; an IPv6 address that carries an
 * IPv4 one is judged by the IPv4 address, and Teredo and local-use NAT64 are refused (see `embeddedIPv4`).
 */
export function isPublicAddress(address: string): boolean {
  return problem(address, parseAllowlist([])) === undefined;
}

/** Throws UnsafeUrlError unless the address is public or allowlisted (itself, or the IPv4 address it carries). */
export function checkAddress(address: string, allow: Allowlist): void {
  const why = problem(address, allow);
  if (why !== undefined) throw new UnsafeUrlError(`address ${address} is not public (${why})`);
}

/** Checks the URL's scheme and every address its host resolves to; returns the parsed URL. */
export async function assertSafeUrl(rawUrl: string, allow: Allowlist, lookupAll: LookupAll = systemLookupAll, options: GuardOptions = {}): Promise<URL> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UnsafeUrlError('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeUrlError('only http and https are allowed');
  if (url.username || url.password) throw new UnsafeUrlError('credentials in the URL are not allowed');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allow.hosts.has(host)) return url;
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host, lookupAll, options);
  for (const { address } of addresses) checkAddress(address, allow);
  return url;
}

/** Tells whether an error is the guard refusing a URL for good (directly or as a cause); a timed-out lookup is not. */
export function isRefusal(err: unknown): boolean {
  const refusal = (e: unknown) => e instanceof UnsafeUrlError && !(e instanceof LookupTimeoutError);
  return refusal(err) || (err instanceof Error && refusal(err.cause));
}

/** The host's addresses, or LookupTimeoutError once the deadline passes. */
async function lookupWithin(host: string, lookupAll: LookupAll, { dnsTimeoutMs = DNS_TIMEOUT_MS }: GuardOptions): Promise<LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeoutError(`host ${host} did not resolve within ${dnsTimeoutMs} ms`)), dnsTimeoutMs);
  });
  try {
    return await Promise.race([lookupAll(host), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function resolve(host: string, lookupAll: LookupAll, options: GuardOptions): Promise<LookupAddress[]> {
  try {
    const addresses = await lookupWithin(host, lookupAll, options);
    if (addresses.length === 0) throw new Error('no address');
    return addresses;
  } catch (err) {
    if (err instanceof LookupTimeoutError) throw err;
    throw new UnsafeUrlError(`host ${host} does not resolve`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses unsafe addresses at connection time, so a host that
 * resolved to a public address at submission cannot be re-pointed at an internal one (DNS rebinding).
 */
export function guardedLookup(allow: Allowlist, lookupAll: LookupAll = systemLookupAll, options: GuardOptions = {}) {
  return (hostname: string, lookupOptions: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    const host = hostname.toLowerCase();
    lookupWithin(host, lookupAll, options).then(
      (addresses) => {
        try {
          if (!allow.hosts.has(host)) for (const { address } of addresses) checkAddress(address, allow);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '');
          return;
        }
        if ((lookupOptions as LookupAllOptions).all) callback(null, addresses);
        else {
          const first = addresses[0];
          if (!first) callback(Object.assign(new Error(`host ${host} does not resolve`), { code: 'ENOTFOUND' }), '');
          else callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
