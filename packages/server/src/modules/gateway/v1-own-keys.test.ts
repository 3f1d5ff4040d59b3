import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStores } from '../../stores/index.js';
import { backendPairs } from '../../testing/backend-pairs.js';
import { fakeCompletion, type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { getBalance, getPlan, postEntry, renewPlans, setWalletPlan } from '../billing/index.js';
import { creditHolds } from '../billing/tables.js';
import { OwnProviderKeys } from './own-keys.js';

// "Hi" is 2 bytes plus 8 tokens of message overhead: the hold's prompt bound is 10 tokens, the output bound 10.
const hi = { messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 10 };

// Own keys stay cached longer than any run of this file: a change a process sees was announced to it, it cannot be
// the cache expiring. So the polls below wait as long as a loaded machine needs to deliver the announcement.
const CACHED_FOR_MS = 3_600_000;
const ANNOUNCED_WITHIN = { timeout: 15_000 };

for (const pair of backendPairs()) {
  describe(`/v1 with the caller's own provider keys on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let owner: SignedInClient;
    let walletId: string;
    let key: string;
    let ownKey: string;
    let costOfGpt: number;
    let costOfBackup: number;
    let worstOfBackup: number;
    const logs: string[] = [];

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, {
        metering: 'ledger',
        ownKeysTtlMs: CACHED_FOR_MS,
        env: { LOG_LEVEL: 'trace' },
        logStream: { write: (line) => void logs.push(line) },
      });
      owner = await signUpAndSignIn(harness.app);
      const wallet = await harness.app.billing.userWallet(owner.userId);
      walletId = wallet.id;
      await setWalletPlan(harness.database.db, { walletId, plan: 'pro' });
      await renewPlans(harness.database.db, { timeZone: harness.app.billing.timeZone });
      key = await harness.createKey({ userId: owner.userId });
      // Made up here; no real provider ever sees it.
      ownKey = `sk-own-${randomBytes(16).toString('hex')}`;
      const saved = await harness.app.inject({
        method: 'PUT',
        url: '/api/account/provider-keys/primary',
        headers: owner.headers,
        payload: { key: ownKey, label: 'Mine' },
      });
      expect(saved.statusCode).toBe(200);
      const book = await harness.app.billing.prices.get();
      const pro = getPlan('pro');
      const exact = { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 };
      costOfGpt = book.priceUsage({ model: 'gpt-test', usage: exact, plan: pro }).credits;
      costOfBackup = book.priceUsage({ model: 'backup-test', usage: exact, plan: pro }).credits;
      worstOfBackup = book.quoteHold({
        model: ['backup-test'],
        maxPromptTokens: 10,
        maxOutputTokens: 10,
        plan: pro,
      }).credits;
      expect(Math.min(costOfGpt, costOfBackup, worstOfBackup)).toBeGreaterThan(0);
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.requests.length = 0;
      harness.backup.requests.length = 0;
      harness.primary.setHandler(() =>
        fakeCompletion({ prompt: 10, completion: 10 }, { finishReason: 'stop' }),
      );
      harness.backup.setHandler(() =>
        fakeCompletion({ prompt: 10, completion: 10 }, { finishReason: 'stop' }),
      );
    });

    /** Sets what the wallet has available; small amounts keep holds one per request. */
    async function fund(credits: number) {
      const { available } = await getBalance(harness.database.db, walletId);
      if (credits === available) return;
      await postEntry(harness.database.db, {
        walletId,
        kind: 'adjustment',
        amount: credits - available,
        reason: 'test funding',
        idempotencyKey: `test-fund-${Math.random()}`,
      });
    }

    const api = async (method: 'GET' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
      const response = await harness.app.inject({
        method,
        url,
        headers: owner.headers,
        ...(payload ? { payload } : {}),
      });
      expect(response.statusCode).toBeLessThan(300);
      return response.statusCode === 204 ? undefined : response.json();
    };
    const balance = async () =>
      (await api('GET', '/api/billing/balance')) as { balance: number; held: number };
    const ledgerOf = async (requestId: string) =>
      (
        (await api('GET', '/api/billing/ledger?limit=200')) as { entries: Array<Record<string, unknown>> }
      ).entries.filter((entry) => entry.requestId === requestId);
    const requestsToday = async () =>
      (
        (await api('GET', '/api/billing/quotas')) as {
          quotas: Array<{ scope: string; metric: string; period: string; used: number }>;
        }
      ).quotas.find(
        (quota) => quota.scope === 'user' && quota.metric === 'requests' && quota.period === 'day',
      )!.used;
    const post = (body: object) =>
      fetch(`${harness.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    it('calls the provider with the own key, charges nothing, holds nothing, and still records and counts the call', async () => {
      await fund(costOfGpt * 10);
      const before = await balance();
      const requestsBefore = await requestsToday();
      const response = await post({ model: 'gpt-test', ...hi });
      expect(response.status).toBe(200);
      await response.json();
      expect(harness.primary.requests[0]!.headers.authorization).toBe(`Bearer ${ownKey}`);
      expect(response.headers.get('x-webox-provider-key')).toBe('own');
      expect(response.headers.get('x-webox-credits-charged')).toBe('0');
      const requestId = response.headers.get('x-request-id')!;

      expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });
      expect(await ledgerOf(requestId)).toEqual([]);
      // Every candidate runs on the own key: nothing was held, not even for a moment.
      expect(
        await harness.database.db.select().from(creditHolds).where(eq(creditHolds.requestId, requestId)),
      ).toEqual([]);
      expect(await requestsToday()).toBe(requestsBefore + 1);
      expect(await harness.usageRecordOf(requestId)).toMatchObject({
        status: 200,
        provider: 'primary:own-key',
        servedModel: 'gpt-test',
        inputTokens: 10,
        outputTokens: 10,
        credits: 0,
      });

      // Streams too: the final usage chunk says 0 credits.
      harness.primary.setHandler(() => ({
        kind: 'sse',
        events: [
          {
            data: JSON.stringify({
              id: 'c',
              object: 'chat.completion.chunk',
              created: 1,
              model: 'm',
              choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            }),
          },
          {
            data: JSON.stringify({
              id: 'c',
              object: 'chat.completion.chunk',
              created: 1,
              model: 'm',
              choices: [],
              usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
            }),
          },
          { data: '[DONE]' },
        ],
      }));
      const streamed = await post({
        model: 'gpt-test',
        ...hi,
        stream: true,
        stream_options: { include_usage: true },
      });
      const text = await streamed.text();
      expect(text).toContain('"webox_credits":0');
      expect(harness.primary.requests[1]!.headers.authorization).toBe(`Bearer ${ownKey}`);
      expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });
    });

    it("holds the worst case of an alias's platform-paid targets, releases it when the own key serves, and charges when the platform's key serves", async () => {
      // smart: gpt-test on primary (own key), then backup-test on backup (platform key).
      await fund(worstOfBackup - 1);
      const refused = await post({ model: 'smart', ...hi });
      expect(refused.status).toBe(402);
      expect(harness.primary.requests).toHaveLength(0);

      await fund(worstOfBackup * 10);
      const before = await balance();
      harness.primary.setHandler(() => ({
        ...fakeCompletion({ prompt: 10, completion: 10 }, { finishReason: 'stop' }),
        delayMs: 400,
      }));
      const pending = post({ model: 'smart', ...hi });
      await expect.poll(async () => (await balance()).held, { timeout: 5_000 }).toBe(worstOfBackup);
      const served = await pending;
      expect(served.status).toBe(200);
      expect(served.headers.get('x-webox-provider')).toBe('primary');
      expect(served.headers.get('x-webox-credits-charged')).toBe('0');
      expect(await ledgerOf(served.headers.get('x-request-id')!)).toEqual([]);
      expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });

      // The provider rejects the own key: the backup serves with the platform's key, and that is charged.
      harness.primary.setHandler(() => ({
        kind: 'json',
        status: 401,
        body: { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } },
      }));
      harness.backup.requests.length = 0;
      const fellBack = await post({ model: 'smart', ...hi });
      expect(fellBack.status).toBe(200);
      expect(harness.backup.requests[0]!.headers.authorization).toMatch(/^Bearer test-backup-/);
      expect(fellBack.headers.get('x-webox-provider-key')).toBeNull();
      expect(Number(fellBack.headers.get('x-webox-credits-charged'))).toBe(costOfBackup);
      const entries = await ledgerOf(fellBack.headers.get('x-request-id')!);
      expect(entries).toMatchObject([{ kind: 'usage', amount: -costOfBackup, model: 'backup-test' }]);
      expect(await balance()).toMatchObject({ balance: before.balance - costOfBackup, held: 0 });
    });

    it("gives a user who switched their key off the platform's key and charges them; the switch reaches /v1 at once", async () => {
      await fund(costOfGpt * 20);
      const {
        keys: [saved],
      } = (await api('GET', '/api/account/provider-keys')) as { keys: Array<{ id: string }> };
      const ask = async () => {
        harness.primary.requests.length = 0;
        const response = await post({ model: 'gpt-test', ...hi });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        return {
          authorization: harness.primary.requests[0]!.headers.authorization as string,
          charged: Number(response.headers.get('x-webox-credits-charged')),
        };
      };
      // Warm the cache with the own key, so what follows is the change being announced, not a cache miss.
      expect(await ask()).toEqual({ authorization: `Bearer ${ownKey}`, charged: 0 });
      // Cached keys live an hour here: the key a call switches to was announced, the cache did not expire.
      const untilServedWith = async (pattern: RegExp) => {
        let last = await ask();
        await expect
          .poll(async () => {
            last = await ask();
            return last.authorization;
          }, ANNOUNCED_WITHIN)
          .toMatch(pattern);
        return last;
      };

      await api('PATCH', `/api/account/provider-keys/${saved!.id}`, { useForGateway: false });
      expect(await untilServedWith(/^Bearer test-primary-/)).toEqual({
        authorization: expect.stringMatching(/^Bearer test-primary-/),
        charged: costOfGpt,
      });

      await api('PATCH', `/api/account/provider-keys/${saved!.id}`, { useForGateway: true });
      expect(await untilServedWith(new RegExp(`^Bearer ${ownKey}$`))).toMatchObject({ charged: 0 });

      await api('DELETE', `/api/account/provider-keys/${saved!.id}`);
      expect(await untilServedWith(/^Bearer test-primary-/)).toMatchObject({ charged: costOfGpt });
      const restored = await harness.app.inject({
        method: 'PUT',
        url: '/api/account/provider-keys/primary',
        headers: owner.headers,
        payload: { key: ownKey },
      });
      expect(restored.statusCode).toBe(200);
      expect(await untilServedWith(new RegExp(`^Bearer ${ownKey}$`))).toMatchObject({ charged: 0 });
    });

    it('never shows the own key in a response or a log line, even when the provider echoes it', async () => {
      await fund(costOfGpt * 10);
      logs.length = 0;
      const echo = (status: number, extra: object = {}) =>
        harness.primary.setHandler((request) => ({
          kind: 'json',
          status,
          body: {
            error: {
              message: `Key ${String(request.headers.authorization)} (${ownKey.slice(0, 20)}…) was used`,
              ...extra,
            },
          },
        }));
      const bodies: string[] = [];
      for (const [status, extra] of [
        [401, { code: 'invalid_api_key' }],
        [400, {}],
        [429, {}],
        [500, {}],
      ] as const) {
        echo(status, extra);
        const response = await post({ model: 'gpt-test', ...hi });
        expect(response.status).toBeGreaterThanOrEqual(400);
        bodies.push(await response.text());
        const streamed = await post({ model: 'gpt-test', ...hi, stream: true });
        bodies.push(await streamed.text());
      }
      expect(
        harness.primary.requests.every((request) => request.headers.authorization === `Bearer ${ownKey}`),
      ).toBe(true);
      expect(bodies.join('\n')).toMatch(/rejected the provider key saved on your account/);
      await harness.app.usageWriter.flush();
      const everything = `${bodies.join('\n')}\n${logs.join('')}`;
      expect(logs.length).toBeGreaterThan(0);
      expect(everything).not.toContain(ownKey);
      expect(everything).not.toContain(ownKey.slice(0, 20));
      // Nothing was charged for the failures.
      expect((await balance()).held).toBe(0);
    });
  });

  describe(`own provider keys cached per process on ${pair.name}`, () => {
    let harness: GatewayHarness;
    // Made in the hook, where its time counts: a fresh app took most of this case's 30 s on a loaded machine.
    beforeAll(async () => {
      harness = await startGatewayHarness(pair);
    });
    afterAll(() => harness?.close());

    it('drops a user’s cached keys in every process when accounts announce a change', async () => {
      const user = await signUpAndSignIn(harness.app);
      const save = (key: string, useForGateway = true) =>
        harness.app.inject({
          method: 'PUT',
          url: '/api/account/provider-keys/backup',
          headers: user.headers,
          payload: { key, useForGateway },
        });
      expect((await save('sk-first-0123456789')).statusCode).toBe(200);
      // A second process: its own stores connection (the same Redis when configured) and its own cache.
      const secondStores =
        harness.stores.redis && process.env.REDIS_URL
          ? createStores({ redisUrl: process.env.REDIS_URL, prefix: harness.stores.prefix })
          : harness.stores;
      const other = new OwnProviderKeys(harness.database.db, secondStores.pubSub, {
        providers: ['primary', 'backup'],
        ttlMs: CACHED_FOR_MS,
      });
      await other.start();
      try {
        expect(await other.keysFor(user.userId)).toEqual({ backup: 'sk-first-0123456789' });
        expect((await save('sk-second-0123456789')).statusCode).toBe(200);
        await expect
          .poll(() => other.keysFor(user.userId), ANNOUNCED_WITHIN)
          .toEqual({ backup: 'sk-second-0123456789' });
        expect((await save('sk-second-0123456789', false)).statusCode).toBe(200);
        await expect.poll(() => other.keysFor(user.userId), ANNOUNCED_WITHIN).toEqual({});
      } finally {
        await other.stop();
        if (secondStores !== harness.stores) await secondStores.close();
      }
    });
  });
}
