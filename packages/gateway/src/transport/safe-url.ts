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
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

const metadataHostnames = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.internal']);

/** True for loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return privateRanges.check(address, 'ipv4');
  if (family === 6) {
    const lowered = address.toLowerCase();
    // An IPv4-mapped IPv6 address reaches the IPv4 host it embeds.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lowered);
    if (mapped) return privateRanges.check(mapped[1]!, 'ipv4');
    const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lowered);
    if (mappedHex) {
      const high = Number.parseInt(mappedHex[1]!, 16);
      const low = Number.parseInt(mappedHex[2]!, 16);
      return privateRanges.check(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, 'ipv4');
    }
    return privateRanges.check(lowered, 'ipv6');
  }
  return true;
}

/**
 * A refused base URL is the operator's configuration at fault, not the client's request: a 502 that names the provider
 * only, as when the connect-time lookup refuses (`http-client.ts`). What was wrong (the host) is the error's `cause`,
 * for the log.
 */
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
