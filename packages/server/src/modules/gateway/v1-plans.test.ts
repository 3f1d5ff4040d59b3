import { eq } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { getBalance, plans, renewPlans, setWalletPlan } from '../billing/index.js';
import { creditHolds } from '../billing/tables.js';

const price = { inputPerMillion: 100_000, outputPerMillion: 400_000 };

for (const pair of backendPairs()) {
  describe(`/v1 keeps callers to their plan's models on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let freeKey: string;
    let proKey: string;
    let freeWalletId: string;

    beforeAll(async () => {
      // The free plan lists gpt-4o-mini; gpt-big is on no list but the paid plans' '*'.
      expect(plans.free!.allowedModels).toContain('gpt-4o-mini');
      expect(plans.free!.allowedModels).not.toContain('gpt-big');
      harness = await startGatewayHarness(pair, {
        metering: 'ledger',
        config: () => ({
          models: {
            'gpt-4o-mini': { provider: 'primary', model: 'small-upstream', contextWindow: 128_000, price },
            'gpt-big': { provider: 'primary', model: 'big-upstream', contextWindow: 128_000, price },
            'embed-big': {
              provider: 'primary',
              model: 'embed-upstream',
              contextWindow: 8_000,
              capabilities: ['embeddings'],
              price,
            },
          },
          routes: {
            // Every target is on the free list: free callers may use the alias without it being listed.
            cheap: { targets: [{ model: 'gpt-4o-mini' }] },
            mixed: { targets: [{ model: 'gpt-4o-mini' }, { model: 'gpt-big' }] },
            // Free callers are routed to an allowed model, everyone else to the big one.
            tiered: [
              { when: [{ plan: ['free'] }], targets: [{ model: 'gpt-4o-mini' }] },
              { targets: [{ model: 'gpt-big' }] },
            ],
          },
        }),
      });
      freeWalletId = (await harness.app.billing.userWallet(harness.userId)).id;
      freeKey = await harness.createKey();
      const proUser = await harness.createUser(`pro-${Math.random().toString(36).slice(2)}@example.com`);
      const proWallet = await harness.app.billing.userWallet(proUser);
      await setWalletPlan(harness.database.db, { walletId: proWallet.id, plan: 'pro' });
      proKey = await harness.createKey({ userId: proUser });
      // Both wallets get their month's plan credits.
      await renewPlans(harness.database.db, { timeZone: harness.app.billing.timeZone });
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.requests.length = 0;
      harness.primary.setHandler((request) =>
        String(request.path).endsWith('/embeddings')
          ? {
              kind: 'json',
              body: {
                object: 'list',
                data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
                model: 'embed-upstream',
                usage: { prompt_tokens: 2, total_tokens: 2 },
              },
            }
          : {
              kind: 'json',
              body: {
                id: 'chatcmpl-plan',
                object: 'chat.completion',
                created: 1,
                model: 'x',
                choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
                usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
              },
            },
      );
    });

    const post = (apiKey: string, path: string, body: object) =>
      fetch(`${harness.origin}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const chat = (apiKey: string, model: string) =>
      post(apiKey, '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'Hi' }] });

    it('refuses a model or alias outside the plan with 403 model_not_allowed: no provider call, nothing held', async () => {
      const before = await getBalance(harness.database.db, freeWalletId);
      const refusals = [
        await chat(freeKey, 'gpt-big'),
        // An alias with one target outside the plan could be served by it.
        await chat(freeKey, 'mixed'),
        await post(freeKey, '/v1/chat/completions', {
          model: 'gpt-big',
          stream: true,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        await post(freeKey, '/v1/messages', {
          model: 'gpt-big',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        await post(freeKey, '/v1/embeddings', { model: 'embed-big', input: 'Hi' }),
      ];
      for (const response of refusals) {
        expect(response.status).toBe(403);
        // The OpenAI shape (and Anthropic's, on /v1/messages): a permission error with the code.
        expect(await response.json()).toMatchObject({
          error: { type: 'permission_error', code: 'model_not_allowed' },
        });
        const holds = await harness.database.db
          .select()
          .from(creditHolds)
          .where(eq(creditHolds.requestId, response.headers.get('x-request-id')!));
        expect(holds).toEqual([]);
      }
      expect(harness.primary.requests).toHaveLength(0);
      expect(await getBalance(harness.database.db, freeWalletId)).toEqual(before);

      const openai = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: freeKey, maxRetries: 0 });
      const error = await openai.chat.completions
        .create({ model: 'gpt-big', messages: [{ role: 'user', content: 'Hi' }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_allowed');
    });

    it('serves what the plan allows: listed models, aliases whose every target is listed, plan-routed aliases', async () => {
      for (const model of ['gpt-4o-mini', 'cheap', 'tiered']) {
        const response = await chat(freeKey, model);
        expect(response.status, model).toBe(200);
        expect(response.headers.get('x-webox-served-model')).toBe('gpt-4o-mini');
      }
      // A paid plan allows everything, the big model included.
      for (const model of ['gpt-big', 'mixed', 'tiered']) {
        expect((await chat(proKey, model)).status, model).toBe(200);
      }
      expect((await chat(proKey, 'tiered')).headers.get('x-webox-served-model')).toBe('gpt-big');
      expect((await post(proKey, '/v1/embeddings', { model: 'embed-big', input: 'Hi' })).status).toBe(200);
    });

    it('lists only the models and aliases the plan allows', async () => {
      const ids = async (apiKey: string) =>
        (await new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey, maxRetries: 0 }).models.list()).data
          .map((model) => model.id)
          .sort();
      expect(await ids(freeKey)).toEqual(['cheap', 'gpt-4o-mini', 'tiered']);
      expect(await ids(proKey)).toEqual(['cheap', 'embed-big', 'gpt-4o-mini', 'gpt-big', 'mixed', 'tiered']);
      // A key limited to some models still sees only those its plan allows too.
      const limited = await harness.createKey({ allowedModels: ['gpt-big', 'cheap'] });
      expect(await ids(limited)).toEqual(['cheap']);
    });
  });
}
