import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { startGatewayHarness } from '../../testing/gateway-harness.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { rateTiers } from './rate-limits.js';
import { createSignedInAccount, randomIp, uniqueEmail } from './testing.js';

/** Sends `count` requests one after the other (limits count in order) and returns the answers. */
async function burst(harness: TestApp, count: number, request: () => InjectOptions) {
  const answers: LightMyRequestResponse[] = [];
  for (let index = 0; index < count; index += 1) answers.push(await harness.app.inject(request()));
  return answers;
}

function expectLimitedAt(answers: LightMyRequestResponse[], limit: number) {
  const statuses = answers.map((answer) => answer.statusCode);
  expect(statuses.slice(0, limit).filter((status) => status === 429)).toEqual([]);
  const refused = answers[limit]!;
  expect(refused.statusCode).toBe(429);
  expect(refused.json().error.code).toBe('rate_limited');
  const retryAfter = Number(refused.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(refused.headers['x-ratelimit-limit']).toBe(String(limit));
  expect(refused.headers['x-ratelimit-remaining']).toBe('0');
}

for (const pair of backendPairs()) {
  describe(`rate limits in tiers, 429 with Retry-After, on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness.close());

    it(`relaxed for reads: ${rateTiers.reads} a minute per account, others unaffected`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.reads + 1, () => ({
        url: '/api/account/sessions',
        headers: person.headers,
        remoteAddress: randomIp(),
      }));
      expectLimitedAt(answers, rateTiers.reads);
      const other = await createSignedInAccount(harness.app);
      expect(
        (await harness.app.inject({ url: '/api/account/sessions', headers: other.headers })).statusCode,
      ).toBe(200);
    });

    it(`moderate for changes: ${rateTiers.writes} a minute per account, whatever the address`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.writes + 1, () => ({
        method: 'PATCH',
        url: '/api/account/profile',
        headers: person.headers,
        remoteAddress: randomIp(),
        payload: { theme: 'dark' },
      }));
      expectLimitedAt(answers, rateTiers.writes);
    });

    it(`strict for authentication: ${rateTiers.auth} a minute per address named, from any number of IPs`, async () => {
      const email = uniqueEmail('target');
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email },
      }));
      expectLimitedAt(answers, rateTiers.auth);
      // The same address written another way is the same budget.
      const shouted = await harness.app.inject({
        method: 'POST',
        url: '/api/auth/password-reset/request',
        remoteAddress: randomIp(),
        payload: { email: email.toUpperCase() },
      });
      expect(shouted.statusCode).toBe(429);
    });

    it(`strict for authentication: ${rateTiers.auth} a minute per IP, whatever the addresses`, async () => {
      const ip = randomIp();
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/auth/sign-up',
        remoteAddress: ip,
        payload: { email: uniqueEmail('spray'), password: 'a sturdy passphrase 42' },
      }));
      expectLimitedAt(answers, rateTiers.auth);
    });

    it(`strict for sensitive account changes: ${rateTiers.auth} a minute per account`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers = await burst(harness, rateTiers.auth + 1, () => ({
        method: 'POST',
        url: '/api/account/password',
        headers: person.headers,
        remoteAddress: randomIp(),
        payload: { currentPassword: 'a guess at the password', newPassword: 'a sturdy passphrase 42' },
      }));
      expectLimitedAt(answers, rateTiers.auth);
    });
  });
}

for (const pair of backendPairs()) {
  describe(`the generation tier on /v1 on ${pair.name}`, () => {
    let harness: Awaited<ReturnType<typeof startGatewayHarness>>;
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness.close());

    it(`allows a signed-in person ${rateTiers.generation} calls a minute; API keys have their own limits`, async () => {
      const person = await createSignedInAccount(harness.app);
      const answers: LightMyRequestResponse[] = [];
      for (let index = 0; index <= rateTiers.generation; index += 1) {
        answers.push(
          await harness.app.inject({ url: '/v1/models', headers: person.headers, remoteAddress: randomIp() }),
        );
      }
      expect(answers.slice(0, rateTiers.generation).every((answer) => answer.statusCode === 200)).toBe(true);
      const refused = answers[rateTiers.generation]!;
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.json().error.code).toBe('rate_limited');
    });
  });
}
