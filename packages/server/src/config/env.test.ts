import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv, publicUrl } from './env.js';

describe('loadEnv', () => {
  it('starts with nothing set: PGlite in ./data, memory stores, port 8080', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 8080, DATA_DIR: './data', WEBOX_CONFIG: './webox.config.yaml' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(publicUrl(env)).toBe('http://localhost:8080');
  });

  it('treats an empty variable as unset', () => {
    expect(loadEnv({ PORT: '', DATABASE_URL: '' }).PORT).toBe(8080);
  });

  it.each([
    [{ PORT: 'eighty' }, /^Invalid setting PORT: /],
    [{ PORT: '70000' }, /^Invalid setting PORT: /],
    [
      { DATABASE_URL: 'mysql://localhost/x' },
      /^Invalid setting DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL$/,
    ],
    [{ REDIS_URL: 'localhost:6379' }, /^Invalid setting REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/],
    [{ ADMIN_EMAIL: 'admin@example.com' }, /^Invalid setting ADMIN_PASSWORD: ADMIN_EMAIL and ADMIN_PASSWORD/],
    [
      { ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'short' },
      /^Invalid setting ADMIN_PASSWORD: must be at least 10/,
    ],
    [{ BODY_LIMIT: '12' }, /^Invalid setting BODY_LIMIT: /],
    [{ LOG_LEVEL: 'loud' }, /^Invalid setting LOG_LEVEL: /],
    [
      { TRUST_PROXY: 'true' },
      /^Invalid setting TRUST_PROXY: must be false or the reverse proxies' addresses/,
    ],
    [{ TRUST_PROXY: '1' }, /^Invalid setting TRUST_PROXY: .*hop counts are refused/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^Invalid setting TRUST_PROXY: /],
    [{ TRUST_PROXY: '10.0.0.1, proxy.internal' }, /^Invalid setting TRUST_PROXY: /],
    [{ TRUST_PROXY: '-1' }, /^Invalid setting TRUST_PROXY: /],
  ])('names the variable and the problem in one line for %o', (source, message) => {
    let caught: unknown;
    try {
      loadEnv(source);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain('\n');
  });

  it('reads TRUST_PROXY as nothing trusted or a list of proxy addresses', () => {
    expect(loadEnv({}).TRUST_PROXY).toBe(false);
    expect(loadEnv({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
    expect(loadEnv({ TRUST_PROXY: '0' }).TRUST_PROXY).toBe(false);
    expect(loadEnv({ TRUST_PROXY: '127.0.0.1' }).TRUST_PROXY).toEqual(['127.0.0.1']);
    expect(loadEnv({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8,loopback' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('never echoes the value of a secret it rejects', () => {
    expect(() => loadEnv({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'tiny-pw' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('tiny-pw') }),
    );
  });
});
