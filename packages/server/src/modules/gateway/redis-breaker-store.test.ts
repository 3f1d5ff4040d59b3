import { randomBytes } from 'node:crypto';
import { runBreakerStoreSuite } from '@webox/gateway/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisBreakerStore } from './redis-breaker-store.js';

const url = process.env.REDIS_URL;

if (url) {
  const redis = new Redis(url);
  afterAll(async () => {
    const keys = await redis.keys('webox_t_breaker_*');
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  runBreakerStoreSuite('redis', {
    create: () => new RedisBreakerStore(redis, `webox_t_breaker_${randomBytes(4).toString('hex')}:`),
  });

  describe('RedisBreakerStore across processes', () => {
    it('is one breaker for every client: failures from two connections add up and open it for both', async () => {
      const prefix = `webox_t_breaker_${randomBytes(4).toString('hex')}:`;
      const other = new Redis(url);
      try {
        const first = new RedisBreakerStore(redis, prefix);
        const second = new RedisBreakerStore(other, prefix);
        await first.recordFailure('openai:0', { threshold: 2, openMs: 10_000 });
        expect((await second.recordFailure('openai:0', { threshold: 2, openMs: 10_000 })).status).toBe(
          'open',
        );
        expect((await first.getState('openai:0')).status).toBe('open');
      } finally {
        await other.quit();
      }
    });

    it('sees a breaker another process opened within a second of having read it clean', async () => {
      const prefix = `webox_t_breaker_${randomBytes(4).toString('hex')}:`;
      const other = new Redis(url);
      try {
        const first = new RedisBreakerStore(redis, prefix);
        const second = new RedisBreakerStore(other, prefix);
        expect(await first.getState('openai:1')).toEqual({ status: 'closed', failures: 0 });
        await second.recordFailure('openai:1', { threshold: 1, openMs: 10_000 });
        // A success here within the window resets nothing: the failure recorded elsewhere stays.
        await first.recordSuccess('openai:1');
        expect((await second.getState('openai:1')).status).toBe('open');
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        expect((await first.getState('openai:1')).status).toBe('open');
      } finally {
        await other.quit();
      }
    });
  });
} else {
  describe.skip('RedisBreakerStore (set REDIS_URL to run)', () => {
    it('needs Redis', () => {});
  });
}
