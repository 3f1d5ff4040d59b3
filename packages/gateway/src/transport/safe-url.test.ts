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

  it('classifies addresses', () => {
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
    expect(isPrivateAddress('100.64.0.1')).toBe(true);
    expect(isPrivateAddress('fe80::1')).toBe(true);
    expect(isPrivateAddress('::ffff:a9fe:a9fe')).toBe(true);
  });
});
