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

  const connect = () => {
    const redis = new Redis(url as string);
    connections.push(redis);
    return redis;
  };

  /** Two processes sharing one Redis and prefix, as two servers behind a load balancer do. */
  function twoProcesses() {
    const prefix = `webox_t_pubsub_${randomBytes(4).toString('hex')}:`;
    const first = new RedisPubSub(connect(), prefix);
    const second = new RedisPubSub(connect(), prefix);
    pubSubs.push(first, second);
    return { first, second, prefix };
  }

  it('delivers a message once to the publisher at once and once to the other process soon after', async () => {
    const { first, second } = twoProcesses();
    const heardByFirst: string[] = [];
    const heardBySecond: string[] = [];
    await first.subscribe('revoked', (message) => heardByFirst.push(message));
    await second.subscribe('revoked', (message) => heardBySecond.push(message));

    await first.publish('revoked', 'hash with spaces');
    expect(heardByFirst).toEqual(['hash with spaces']);
    await expect.poll(() => heardBySecond).toEqual(['hash with spaces']);

    await second.publish('revoked', 'another');
    expect(heardBySecond).toEqual(['hash with spaces', 'another']);
    await expect.poll(() => heardByFirst).toEqual(['hash with spaces', 'another']);
    await first.publish('revoked', 'last');
    expect(heardByFirst).toEqual(['hash with spaces', 'another', 'last']);
    // Redis sends each subscriber the messages in the order they were published: when a process hears the other's
    // later message, the echo of its own earlier one has come back before it, and was not delivered again.
    await expect.poll(() => heardBySecond).toEqual(['hash with spaces', 'another', 'last']);
  });

  it('hears an untagged message from a process of the version before, as during a rolling deploy', async () => {
    const { first, prefix } = twoProcesses();
    const heard: string[] = [];
    await first.subscribe('revoked', (message) => heard.push(message));
    await connect().publish(`${prefix}revoked`, 'sha256-of-a-key');
    await expect.poll(() => heard).toEqual(['sha256-of-a-key']);
  });

  it('does not deliver to a channel of another prefix', async () => {
    const { first } = twoProcesses();
    const { first: stranger } = twoProcesses();
    const heard: string[] = [];
    await stranger.subscribe('revoked', (message) => heard.push(message));
    await first.publish('revoked', 'not yours');
    await stranger.publish('revoked', 'yours');
    await expect.poll(() => heard).toEqual(['yours']);
  });
});
