// The SSRF guard for callback URLs: http(s) only, and only public unicast addresses after DNS, unless allowlisted.
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export class UnsafeUrlError extends Error {
  override name = 'UnsafeUrlError';
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

/** Unwraps IPv4-mapped IPv6 (::ffff:127.0.0.1) so it is judged as the IPv4 address it is. */
function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const parsed = ipaddr.parse(address);
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
}

function allowedByCidr(address: ipaddr.IPv4 | ipaddr.IPv6, allow: Allowlist): boolean {
  return allow.cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/**
 * Only plain public unicast addresses are reachable: loopback, private, link-local (and so cloud metadata at
 * 169.254.169.254), CGNAT, unique-local, multicast, reserved and the IPv6 forms that embed IPv4 are all refused.
 */
export function isPublicAddress(address: string): boolean {
  return normalise(address).range() === 'unicast';
}

export function checkAddress(address: string, allow: Allowlist): void {
  const ip = normalise(address);
  if (ip.range() !== 'unicast' && !allowedByCidr(ip, allow)) {
    throw new UnsafeUrlError(`address ${address} is not public (${ip.range()})`);
  }
}

/** Checks the URL's scheme and every address its host resolves to; returns the parsed URL. */
export async function assertSafeUrl(rawUrl: string, allow: Allowlist, lookupAll: LookupAll = systemLookupAll): Promise<URL> {
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
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host, lookupAll);
  for (const { address } of addresses) checkAddress(address, allow);
  return url;
}

async function resolve(host: string, lookupAll: LookupAll): Promise<LookupAddress[]> {
  try {
    const addresses = await lookupAll(host);
    if (addresses.length === 0) throw new Error('no address');
    return addresses;
  } catch {
    throw new UnsafeUrlError(`host ${host} does not resolve`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses unsafe addresses at connection time, so a host that
 * resolved to a public address at submission cannot be re-pointed at an internal one (DNS rebinding).
 */
export function guardedLookup(allow: Allowlist, lookupAll: LookupAll = systemLookupAll) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    const host = hostname.toLowerCase();
    lookupAll(host).then(
      (addresses) => {
        try {
          if (!allow.hosts.has(host)) for (const { address } of addresses) checkAddress(address, allow);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '');
          return;
        }
        if ((options as LookupAllOptions).all) callback(null, addresses);
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
