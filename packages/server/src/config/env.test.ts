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

  it('never echoes the value of a secret it rejects', () => {
    expect(() => loadEnv({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'tiny-pw' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('tiny-pw') }),
    );
  });
});
