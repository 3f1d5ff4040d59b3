import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisPubSub } from './pub-sub.js';

const url = process.env.REDIS_URL;

describe.skipIf(!url)('RedisPubSub across processes', () => {
  const connections: Redis[] = [];
  const pubSubs: RedisPubSub[] = [];
  afterAll(async () => {
    await Promise.all(pubSubs.map((pubSub) => pubSub.close()));
    await Promise.all(connections.map((redis) => redis.quit()));
  });

  /** Two processes sharing one Redis, as two servers behind a load balancer do. */
  function twoProcesses(): [RedisPubSub, RedisPubSub] {
    const prefix = `webox_t_pubsub_${randomBytes(4).toString('hex')}:`;
    const [a, b] = [new Redis(url as string), new Redis(url as string)];
    connections.push(a, b);
    const pair: [RedisPubSub, RedisPubSub] = [new RedisPubSub(a, prefix), new RedisPubSub(b, prefix)];
    pubSubs.push(...pair);
    return pair;
  }

  it('delivers a message once to the publisher at once and once to the other process soon after', async () => {
    const [first, second] = twoProcesses();
    const heardByFirst: string[] = [];
    const heardBySecond: string[] = [];
    await first.subscribe('revoked', (message) => heardByFirst.push(message));
    await second.subscribe('revoked', (message) => heardBySecond.push(message));

    await first.publish('revoked', 'hash with spaces');
    expect(heardByFirst).toEqual(['hash with spaces']);
    await expect.poll(() => heardBySecond).toEqual(['hash with spaces']);

    await second.publish('revoked', 'another');
    expect(heardBySecond).toEqual(['hash with spaces', 'another']);
    await first.publish('revoked', 'last');
    // One connection receives in order: once each process has heard the other's later message, the echo
    // of its own earlier one has come back too, and it was not delivered again.
    await expect.poll(() => heardBySecond).toEqual(['hash with spaces', 'another', 'last']);
    await expect.poll(() => heardByFirst).toEqual(['hash with spaces', 'another', 'last']);
  });

  it('does not deliver to a channel of another prefix', async () => {
    const [first] = twoProcesses();
    const [stranger] = twoProcesses();
    const heard: string[] = [];
    await stranger.subscribe('revoked', (message) => heard.push(message));
    await first.publish('revoked', 'not yours');
    await stranger.publish('revoked', 'yours');
    await expect.poll(() => heard).toEqual(['yours']);
  });
});
