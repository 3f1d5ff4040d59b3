import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { GatewayError } from '../spec/gateway-error.js';

/**
 * SSRF guard for provider base URLs. A base URL may come from an admin override at runtime, so it is
 * checked against every address its host resolves to, not just its spelling.
 */

const privateRanges = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  // The forms embedding an IPv4 address (::/96, ::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are judged by that address.
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): where the IPv4 address sits is up to the network
  ['100::', 64],
  ['2001::', 32], // Teredo: reaches an IPv4 host through a relay
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

const metadataHostnames = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.internal']);

/** The eight 16-bit groups of an address `isIP` calls IPv6 (a zone id, `%eth0`, is dropped). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%', 1)[0]!;
  // A trailing dotted IPv4 part is the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groupsOf = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const [head = '', tail] = text.split('::');
  const start = groupsOf(head);
  if (tail === undefined) return start;
  const end = groupsOf(tail);
  return [...start, ...Array<number>(8 - start.length - end.length).fill(0), ...end];
}

/** The 96-bit prefixes (six groups, in hex) whose last 32 bits are an IPv4 address the IPv6 one reaches. */
const ipv4CarryingPrefixes = new Set([
  '0:0:0:0:0:0', // IPv4-compatible (::/96, deprecated; :: and ::1 are in it too)
  '0:0:0:0:0:ffff', // IPv4-mapped
  '0:0:0:0:ffff:0', // IPv4-translated (SIIT)
  '64:ff9b:0:0:0:0', // NAT64's well-known prefix
]);

/** The IPv4 address an IPv6 one reaches the host of (those prefixes, and 6to4's 2002::/16), if any. */
function embeddedIPv4(groups: number[]): string | undefined {
  const ipv4 = (high = 0, low = 0) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  if (groups[0] === 0x2002) return ipv4(groups[1], groups[2]);
  const prefix = groups
    .slice(0, 6)
    .map((group) => group.toString(16))
    .join(':');
  return ipv4CarryingPrefixes.has(prefix) ? ipv4(groups[6], groups[7]) : undefined;
}

/**
 * True for loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved addresses, also when an
 * IPv6 address embeds one of them in a form that reaches it.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return privateRanges.check(address, 'ipv4');
  if (family === 6) {
    const groups = ipv6Groups(address);
    const ipv4 = embeddedIPv4(groups);
    if (ipv4 !== undefined) return privateRanges.check(ipv4, 'ipv4');
    return privateRanges.check(groups.map((group) => group.toString(16)).join(':'), 'ipv6');
  }
  return true;
}

function unsafe(provider: string | undefined, reason: string): GatewayError {
  return new GatewayError({
    status: 502,
    type: 'upstream_error',
    code: 'unsafe_url',
    message: `${provider ?? 'The provider'} is configured with a base URL the gateway may not call`,
    ...(provider === undefined ? {} : { provider }),
    cause: new Error(reason),
  });
}

export interface SafeUrlOptions {
  /** The provider id, named in the error. */
  provider?: string;
  allowPrivateNetwork?: boolean;
  /** DNS resolution of every address, for tests. Default node:dns lookup with all: true. */
  resolveAll?: (hostname: string) => Promise<string[]>;
}

function defaultResolveAll(hostname: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) reject(error);
      else resolve(addresses.map((entry) => entry.address));
    });
  });
}

/**
 * Throws a GatewayError (`unsafe_url`) unless the URL is http(s) and every address its host resolves to
 * is public, or the provider explicitly allows private networks.
 */
export async function assertSafeUrl(url: string, options: SafeUrlOptions = {}): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw unsafe(options.provider, 'The provider base URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw unsafe(options.provider, 'The provider base URL must use http or https');
  }
  if (parsed.username || parsed.password) {
    throw unsafe(options.provider, 'The provider base URL must not carry credentials');
  }
  if (options.allowPrivateNetwork) return;
  const hostname = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (metadataHostnames.has(hostname) || hostname === 'localhost' || hostname.endsWith('.localhost')) {
    throw unsafe(options.provider, `The provider host ${hostname} is a private address`);
  }
  const addresses = isIP(hostname) ? [hostname] : await (options.resolveAll ?? defaultResolveAll)(hostname);
  if (addresses.length === 0)
    throw unsafe(options.provider, `The provider host ${hostname} does not resolve`);
  for (const address of addresses) {
    if (isPrivateAddress(address)) {
      throw unsafe(options.provider, `The provider host ${hostname} resolves to a private address`);
    }
  }
}

/**
 * A `lookup` for socket connections that refuses private addresses. Checking at connect time closes
 * the DNS-rebinding gap left by checking the URL once before the request.
 */
export const safeLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) {
      callback(error, '', 4);
      return;
    }
    const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
    if (blocked || addresses.length === 0) {
      const refusal = Object.assign(new Error(`Refusing to connect to private address for ${hostname}`), {
        code: 'EPRIVATEADDRESS',
      });
      callback(refusal, '', 4);
      return;
    }
    if (options.all) {
      (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      return;
    }
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
};
