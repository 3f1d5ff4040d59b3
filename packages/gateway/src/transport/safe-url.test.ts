import { describe, expect, it } from 'vitest';
import { assertSafeUrl, isPrivateAddress } from './safe-url.js';

const publicResolver = async () => ['93.184.216.34'];

describe('safe-url', () => {
  it.each([
    'http://127.0.0.1:11434/v1',
    'http://10.1.2.3/v1',
    'http://172.20.0.5/v1',
    'http://192.168.1.10/v1',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:8000/v1',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[fd00:ec2::254]/',
    'http://localhost:8080/v1',
    'http://metadata.google.internal/computeMetadata/v1',
    'http://0.0.0.0:8000',
  ])('refuses %s', async (url) => {
    await expect(assertSafeUrl(url, { resolveAll: publicResolver })).rejects.toMatchObject({
      code: 'unsafe_url',
    });
  });

  it('allows them when the provider allows private networks', async () => {
    await expect(
      assertSafeUrl('http://127.0.0.1:11434/v1', { allowPrivateNetwork: true }),
    ).resolves.toBeUndefined();
    await expect(
      assertSafeUrl('http://localhost:8080/v1', { allowPrivateNetwork: true }),
    ).resolves.toBeUndefined();
  });

  it('checks every address a host name resolves to', async () => {
    await expect(
      assertSafeUrl('https://api.example.com/v1', { resolveAll: publicResolver }),
    ).resolves.toBeUndefined();
    await expect(
      assertSafeUrl('https://rebind.example.com/v1', {
        resolveAll: async () => ['93.184.216.34', '10.0.0.1'],
      }),
    ).rejects.toMatchObject({ code: 'unsafe_url' });
  });

  it('resolves localhost through DNS like any other name', async () => {
    expect(isPrivateAddress('127.0.0.1')).toBe(true);
    await expect(assertSafeUrl('http://localhost/v1')).rejects.toMatchObject({ code: 'unsafe_url' });
  });

  it('refuses other schemes and credentials in the URL', async () => {
    await expect(assertSafeUrl('file:///etc/passwd')).rejects.toMatchObject({ code: 'unsafe_url' });
    await expect(
      assertSafeUrl('https://user:pass@api.example.com', { resolveAll: publicResolver }),
    ).rejects.toMatchObject({ code: 'unsafe_url' });
  });

  it.each([
    ['::ffff:127.0.0.1', 'private', 'IPv4-mapped'],
    ['0:0:0:0:0:ffff:7f00:1', 'private', 'IPv4-mapped, written out'],
    ['::127.0.0.1', 'private', 'IPv4-compatible (::/96)'],
    ['::7f00:1', 'private', 'IPv4-compatible, in hex'],
    ['::a9fe:a9fe', 'private', 'IPv4-compatible cloud metadata (169.254.169.254)'],
    ['::ffff:0:7f00:1', 'private', 'IPv4-translated (SIIT, ::ffff:0:0:0/96)'],
    ['::ffff:0:10.0.0.1', 'private', 'IPv4-translated, dotted'],
    ['2002:7f00:1::', 'private', '6to4 of 127.0.0.1'],
    ['2002:a9fe:a9fe::1', 'private', '6to4 of 169.254.169.254'],
    ['64:ff9b::7f00:1', 'private', 'NAT64 of 127.0.0.1'],
    ['64:ff9b::192.168.0.1', 'private', 'NAT64 of 192.168.0.1, dotted'],
    ['64:ff9b:1::a00:1', 'private', 'local-use NAT64 prefix (64:ff9b:1::/48)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'private', 'Teredo (2001::/32)'],
    ['fe80::1%eth0', 'private', 'link-local with a zone id'],
    ['::', 'private', 'unspecified'],
    ['::1', 'private', 'loopback'],
    ['::ffff:8.8.8.8', 'public', 'IPv4-mapped public'],
    ['64:ff9b::808:808', 'public', 'NAT64 of 8.8.8.8 (what DNS64 answers for a public IPv4 host)'],
    ['2002:808:808::1', 'public', '6to4 of 8.8.8.8'],
    ['2606:4700::1111', 'public', 'plain public IPv6'],
  ])('treats %s as %s (%s)', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected === 'private');
  });

  it('refuses URLs spelling a private host in an IPv6 form that embeds it', async () => {
    for (const url of ['http://[::7f00:1]:8080/', 'http://[64:ff9b::a9fe:a9fe]/', 'http://[2002:a00:1::]/']) {
      await expect(assertSafeUrl(url)).rejects.toMatchObject({ code: 'unsafe_url' });
    }
  });

  it('classifies addresses', () => {
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
    expect(isPrivateAddress('100.64.0.1')).toBe(true);
    expect(isPrivateAddress('fe80::1')).toBe(true);
    expect(isPrivateAddress('::ffff:a9fe:a9fe')).toBe(true);
  });
});
