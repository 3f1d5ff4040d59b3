import { fileURLToPath } from 'node:url';
import { estimateTokens } from '@webox/gateway';
import { type FakeResponse, readChunksFixture, readNamedChunksFixture } from '@webox/gateway/testing';
import { and, eq, sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import {
  fakeCompletion,
  type GatewayHarness,
  startGatewayHarness,
  tenTokenRequest,
} from '../../testing/gateway-harness.js';
import { type SignedInClient, signUpAndSignIn } from '../accounts/testing.js';
import { getBalance, getPlan, postEntry, verifyLedger } from '../billing/index.js';
import { renewPlans, setWalletPlan } from '../billing/plans.js';
import { creditHolds, ledgerEntries } from '../billing/tables.js';

const request = tenTokenRequest;
const gatewayFixture = (path: string) =>
  fileURLToPath(new URL(`../../../../gateway/src/providers/${path}`, import.meta.url));
/** "Hello, world!", then usage: 1,200 input tokens (1,024 cached) and 40 output. */
const backupAnswer = gatewayFixture('openai-compatible/__fixtures__/text.chunks.txt');
const claudeOverloadedAtStart = gatewayFixture('anthropic/__fixtures__/overloaded-at-start.chunks.txt');
const exactUsage = { prompt: 10, completion: 10 };

for (const pair of backendPairs()) {
  describe(`/v1 paid from the credit ledger on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let walletId: string;
    let key: string;
    let costOfOne: number;

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, { metering: 'ledger' });
      const wallet = await harness.app.billing.userWallet(harness.userId);
      walletId = wallet.id;
      await setWalletPlan(harness.database.db, { walletId, plan: 'pro' });
      // Grant the month's plan credits now (idempotent per month) so the renewal job cannot add any mid-test.
      await renewPlans(harness.database.db, { timeZone: harness.app.billing.timeZone });
      key = await harness.createKey();
      const book = await harness.app.billing.prices.get();
      costOfOne = book.priceUsage({
        model: 'gpt-test',
        usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
        plan: { priceMultiplierPermille: 1000 },
      }).credits;
      expect(costOfOne).toBeGreaterThan(0);
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.requests.length = 0;
      harness.primary.setHandler(() => fakeCompletion(exactUsage));
    });

    async function fund(credits: number, wallet = walletId) {
      const { available } = await getBalance(harness.database.db, wallet);
      const change = credits - available;
      if (change !== 0) {
        await postEntry(harness.database.db, {
          walletId: wallet,
          kind: 'adjustment',
          amount: change,
          reason: 'test funding',
          idempotencyKey: `test-fund-${Math.random()}`,
        });
      }
    }

    const post = (body: unknown) =>
      fetch(`${harness.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    it('charges the priced usage, shows it in headers, and records the price version it used', async () => {
      await fund(costOfOne * 10);
      const response = await post(request);
      expect(response.status).toBe(200);
      expect(Number(response.headers.get('x-webox-credits-charged'))).toBe(costOfOne);
      expect(Number(response.headers.get('x-webox-credits-balance'))).toBe(costOfOne * 9);
      const [entry] = await harness.database.db
        .select()
        .from(ledgerEntries)
        .where(
          and(
            eq(ledgerEntries.walletId, walletId),
            eq(ledgerEntries.requestId, response.headers.get('x-request-id')!),
          ),
        );
      expect(entry).toMatchObject({ kind: 'usage', amount: -costOfOne, model: 'gpt-test' });
      expect(entry?.priceVersion).toEqual(expect.any(Number));
      // The bound held is also sent upstream, so the answer cannot cost more than the hold.
      expect(harness.primary.requests[0]!.body).toMatchObject({ max_tokens: 10 });
    });

    it('charges an estimate, not nothing, for an answer whose provider reported no usage', async () => {
      await fund(costOfOne * 1_000);
      const answer = 'A long answer. '.repeat(200);
      harness.primary.setHandler(() => ({
        kind: 'json',
        body: {
          id: 'chatcmpl-no-usage',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
        },
      }));
      const response = await post({ ...request, max_tokens: 1_000 });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      // About four characters a token, as for a stream whose usage never came.
      expect(body.usage).toMatchObject({ prompt_tokens: estimateTokens('Hi'), completion_tokens: 750 });
      const book = await harness.app.billing.prices.get();
      const estimated = book.priceUsage({
        model: 'gpt-test',
        usage: { inputTokens: estimateTokens('Hi'), outputTokens: 750, cachedInputTokens: 0 },
        plan: { priceMultiplierPermille: 1000 },
      }).credits;
      expect(estimated).toBeGreaterThan(costOfOne);
      expect(Number(response.headers.get('x-webox-credits-charged'))).toBe(estimated);
    });

    it('charges an estimate, not nothing, for embeddings whose provider reported no usage', async () => {
      await fund(costOfOne * 1_000);
      const texts = ['A long text to embed. '.repeat(400), 'and a short one'];
      harness.primary.setHandler(() => ({
        kind: 'json',
        body: {
          object: 'list',
          data: [
            { object: 'embedding', index: 0, embedding: [0.1, 0.2] },
            { object: 'embedding', index: 1, embedding: [0.3, 0.4] },
          ],
          model: 'text-embedding-3-small',
        },
      }));
      const response = await fetch(`${harness.origin}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'embed-test', input: texts }),
      });
      expect(response.status).toBe(200);
      // About four characters a token, as for a prompt: 2,200 and 4.
      const inputTokens = estimateTokens(texts[0]!) + estimateTokens(texts[1]!);
      expect(await response.json()).toMatchObject({
        usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
      });
      const book = await harness.app.billing.prices.get();
      const estimated = book.priceUsage({
        model: 'embed-test',
        usage: { inputTokens, outputTokens: 0, cachedInputTokens: 0 },
        plan: { priceMultiplierPermille: 1000 },
      }).credits;
      expect(estimated).toBeGreaterThan(0);
      expect(Number(response.headers.get('x-webox-credits-charged'))).toBe(estimated);
    });

    it('refuses with 402, the balance and the amount needed, without calling the provider', async () => {
      await fund(costOfOne - 1);
      const client = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: key, maxRetries: 0 });
      const error = await client.chat.completions.create(request).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_credits');
      expect(harness.primary.requests).toHaveLength(0);
      const response = await post(request);
      const body = (await response.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/\d/);
    });

    it('carries the cost in the final usage chunk of a stream and charges it once', async () => {
      await fund(costOfOne * 3);
      harness.primary.setHandler(() => ({
        kind: 'sse',
        events: [
          {
            data: JSON.stringify({
              id: 'c',
              object: 'chat.completion.chunk',
              created: 1,
              model: 'm',
              choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }],
            }),
          },
          {
            data: JSON.stringify({
              id: 'c',
              object: 'chat.completion.chunk',
              created: 1,
              model: 'm',
              choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
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
      const client = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: key, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        ...request,
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: Record<string, unknown> | undefined;
      for await (const chunk of stream)
        if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
      expect(usage).toMatchObject({
        prompt_tokens: 10,
        completion_tokens: 10,
        webox_credits: costOfOne,
        webox_balance: costOfOne * 2,
      });
      expect((await getBalance(harness.database.db, walletId)).balance).toBe(costOfOne * 2);
    });

    it('falls back when Anthropic fails right after message_start, and charges only what the backup served', async () => {
      await fund(100_000);
      const before = await getBalance(harness.database.db, walletId);
      // Claude opens the message (reporting 5,000 input tokens), then is overloaded before any content.
      harness.primary.setHandler(() => ({
        kind: 'sse',
        events: readNamedChunksFixture(claudeOverloadedAtStart),
        eventDelayMs: 20,
      }));
      harness.backup.setHandler(() => ({ kind: 'sse', events: readChunksFixture(backupAnswer) }));
      const response = await post({ ...request, model: 'claude-first', stream: true, max_tokens: 50 });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-webox-provider')).toBe('backup');
      const body = await response.text();
      const chunks = body
        .split('\n\n')
        .filter((event) => event.startsWith('data: {'))
        .map(
          (event) =>
            JSON.parse(event.slice('data: '.length)) as { choices: Array<{ delta: { content?: string } }> },
        );
      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world!');
      expect(body).not.toContain('error');
      expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
      // Claude was tried (and retried) before the backup served.
      expect(harness.primary.requests.map((sent) => sent.path)).toEqual(['/v1/messages', '/v1/messages']);

      const requestId = response.headers.get('x-request-id')!;
      const book = await harness.app.billing.prices.get();
      const backupCost = book.priceUsage({
        model: 'backup-test',
        usage: { inputTokens: 1200, outputTokens: 40, cachedInputTokens: 1024 },
        plan: getPlan('pro'),
      }).credits;
      expect(backupCost).toBeGreaterThan(0);
      const usageEntries = () =>
        harness.database.db
          .select({ amount: ledgerEntries.amount, model: ledgerEntries.model })
          .from(ledgerEntries)
          .where(
            and(
              eq(ledgerEntries.walletId, walletId),
              eq(ledgerEntries.requestId, requestId),
              eq(ledgerEntries.kind, 'usage'),
            ),
          );
      // One charge, the backup's: nothing for the 5,000 tokens of Claude's failed opening.
      await expect
        .poll(usageEntries, { timeout: 10_000 })
        .toEqual([{ amount: -backupCost, model: 'backup-test' }]);
      const record = await harness.usageRecordOf(requestId);
      expect(record).toMatchObject({
        status: 200,
        errorCode: null,
        provider: 'backup',
        servedModel: 'backup-test',
        attempts: 3,
        inputTokens: 1200,
        outputTokens: 40,
        credits: backupCost,
      });
      expect(await getBalance(harness.database.db, walletId)).toMatchObject({
        balance: before.balance - backupCost,
        held: 0,
      });
    });

    describe('an answer the provider accepted (200) but that cannot be read', () => {
      const completionText = JSON.stringify(fakeCompletion(exactUsage).body);
      const roleChunk = {
        data: JSON.stringify({
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
        }),
      };
      const cases: Array<{ name: string; path: string; body: unknown; answer: FakeResponse }> = [
        {
          name: 'a chat answer that is not JSON',
          path: '/v1/chat/completions',
          body: { ...request, model: 'smart' },
          answer: {
            kind: 'raw',
            status: 200,
            contentType: 'application/json',
            body: completionText.slice(0, 50),
          },
        },
        {
          name: 'a stream cut after its opening, before any content',
          path: '/v1/chat/completions',
          body: { ...request, model: 'smart', stream: true },
          answer: { kind: 'sse', events: [roleChunk], resetAfterEvents: 1 },
        },
        {
          name: 'embeddings of another shape',
          path: '/v1/embeddings',
          body: { model: 'embed-test', input: ['hello'] },
          answer: { kind: 'json', body: { object: 'list', vectors: [[0.1, 0.2]] } },
        },
      ];

      for (const failure of cases) {
        it(`answers 502 without calling a provider again, charges nothing and records why (${failure.name})`, async () => {
          // Small enough for a hold row per request (no lease): its release is visible.
          await fund(costOfOne * 10);
          const before = await getBalance(harness.database.db, walletId);
          harness.primary.setHandler(() => failure.answer);
          harness.backup.requests.length = 0;
          harness.backup.setHandler(() => fakeCompletion(exactUsage));
          const response = await fetch(`${harness.origin}${failure.path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(failure.body),
          });
          expect(response.status).toBe(502);
          const body = (await response.json()) as { error: Record<string, string> };
          expect(body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_invalid_response' });
          expect(body.error.message).toContain('not sent again');
          expect(harness.primary.requests).toHaveLength(1);
          expect(harness.backup.requests).toHaveLength(0);

          const requestId = response.headers.get('x-request-id')!;
          const holds = await harness.database.db
            .select({ status: creditHolds.status })
            .from(creditHolds)
            .where(eq(creditHolds.requestId, requestId));
          expect(holds).toEqual([{ status: 'released' }]);
          const charges = await harness.database.db
            .select()
            .from(ledgerEntries)
            .where(and(eq(ledgerEntries.walletId, walletId), eq(ledgerEntries.requestId, requestId)));
          expect(charges).toEqual([]);
          expect(await getBalance(harness.database.db, walletId)).toMatchObject({
            balance: before.balance,
            held: 0,
          });
          const record = await harness.usageRecordOf(requestId);
          expect(record).toMatchObject({
            status: 502,
            errorCode: 'upstream_invalid_response',
            provider: 'primary',
            credits: 0,
          });
          expect(await verifyLedger(harness.database.db)).toEqual([]);
        });
      }
    });

    it('never lets 1,000 concurrent requests spend more than a wallet that affords exactly 100', async () => {
      await fund(costOfOne * 100);
      const before = await getBalance(harness.database.db, walletId);
      expect(before).toMatchObject({ balance: costOfOne * 100, held: 0 });
      const statuses = await Promise.all(
        Array.from({ length: 1_000 }, () =>
          post(request).then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          }),
        ),
      );
      const counts: Record<number, number> = {};
      for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
      expect(counts).toEqual({ 200: 100, 402: 900 });
      expect(harness.primary.requests).toHaveLength(100);
      const after = await getBalance(harness.database.db, walletId);
      expect(after).toMatchObject({ balance: 0, held: 0 });
      expect(await verifyLedger(harness.database.db)).toEqual([]);
      const [{ spent }] = (await harness.database.db
        .select({ spent: sql<number>`coalesce(-sum(${ledgerEntries.amount}), 0)::bigint` })
        .from(ledgerEntries)
        .where(and(eq(ledgerEntries.walletId, walletId), eq(ledgerEntries.kind, 'usage')))) as [
        { spent: number },
      ];
      expect(Number(spent)).toBeGreaterThanOrEqual(costOfOne * 100);
    }, 120_000); // a real race of 1,000 requests through the app and the database: room on a loaded machine

    describe('a stream is charged exactly once for what was delivered', () => {
      const words = Array.from({ length: 40 }, (_, index) => `word${index} `);
      const answer = words.join('');
      const chunk = (delta: object, finish: string | null = null) => ({
        data: JSON.stringify({
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [{ index: 0, delta, finish_reason: finish }],
        }),
      });
      /** 40 words, one event each, then the finish and the reported usage (what a complete stream would cost). */
      const pacedAnswer = [
        chunk({ role: 'assistant', content: '' }),
        ...words.map((word) => chunk({ content: word })),
        chunk({}, 'stop'),
        {
          data: JSON.stringify({
            id: 'c',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'm',
            choices: [],
            usage: { prompt_tokens: 10, completion_tokens: 80, total_tokens: 90 },
          }),
        },
        { data: '[DONE]' },
      ];
      const streamed = { ...request, max_tokens: 200, stream: true };
      let payer: SignedInClient;
      let payerWallet: string;
      let payerKey: string;
      let worstCase: number;

      beforeAll(async () => {
        // Someone signed in, so the ledger and balance are read the way people read them: through /api/billing.
        payer = await signUpAndSignIn(harness.app);
        payerWallet = (await harness.app.billing.userWallet(payer.userId)).id;
        await setWalletPlan(harness.database.db, { walletId: payerWallet, plan: 'pro' });
        await renewPlans(harness.database.db, { timeZone: harness.app.billing.timeZone });
        payerKey = await harness.createKey({ userId: payer.userId });
        const book = await harness.app.billing.prices.get();
        worstCase = book.quoteHold({
          model: ['gpt-test'],
          maxPromptTokens: 10,
          maxOutputTokens: 200,
          plan: getPlan('pro'),
        }).credits;
      });

      const billing = async <T>(url: string): Promise<T> => {
        const response = await harness.app.inject({ url, headers: payer.headers });
        expect(response.statusCode).toBe(200);
        return response.json() as T;
      };
      const usageEntriesOf = async (requestId: string) =>
        (
          await billing<{ entries: Array<Record<string, unknown>> }>('/api/billing/ledger?limit=200')
        ).entries.filter((entry) => entry.requestId === requestId && entry.kind === 'usage');
      const send = (signal?: AbortSignal) =>
        fetch(`${harness.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${payerKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(streamed),
          ...(signal ? { signal } : {}),
        });

      /** The one usage entry of a request, its price checked against the tokens it records; then the books. */
      async function expectChargedOnce(requestId: string, before: { balance: number }) {
        await expect.poll(() => usageEntriesOf(requestId), { timeout: 10_000 }).toHaveLength(1);
        const record = await harness.usageRecordOf(requestId);
        // A late second settle (the upstream side finishing after the client side) would show up here.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const [entry] = await usageEntriesOf(requestId);
        expect(await usageEntriesOf(requestId)).toHaveLength(1);
        const details = entry!.details as { inputTokens: number; outputTokens: number };
        const book = await harness.app.billing.prices.get();
        const charged = book.priceUsage({
          model: 'gpt-test',
          usage: {
            inputTokens: details.inputTokens,
            outputTokens: details.outputTokens,
            cachedInputTokens: 0,
          },
          plan: getPlan('pro'),
        }).credits;
        expect(entry).toMatchObject({ amount: -charged, model: 'gpt-test' });
        // Billed for the part delivered: some output, less than the whole answer.
        expect(details.outputTokens).toBeGreaterThan(0);
        expect(details.outputTokens).toBeLessThan(estimateTokens(answer));
        expect(record).toMatchObject({ outputTokens: details.outputTokens, credits: charged });
        const after = await billing<{ balance: number; held: number }>('/api/billing/balance');
        expect(after).toMatchObject({ balance: before.balance - charged, held: 0 });
        const holds = await harness.database.db
          .select({ status: creditHolds.status })
          .from(creditHolds)
          .where(eq(creditHolds.requestId, requestId));
        expect(holds).toEqual([{ status: 'settled' }]);
        expect(await verifyLedger(harness.database.db)).toEqual([]);
        return record!;
      }

      it('when the client disconnects halfway through', async () => {
        await fund(worstCase * 20, payerWallet);
        const before = await billing<{ balance: number }>('/api/billing/balance');
        harness.primary.setHandler(() => ({ kind: 'sse', events: pacedAnswer, eventDelayMs: 40 }));
        const controller = new AbortController();
        const response = await send(controller.signal);
        expect(response.status).toBe(200);
        const requestId = response.headers.get('x-request-id')!;
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        let received = '';
        while ((received.match(/word\d+/g) ?? []).length < 5) {
          const { value, done } = await reader.read();
          if (done) throw new Error('the stream ended before the client went away');
          received += decoder.decode(value, { stream: true });
        }
        controller.abort();
        await reader.cancel().catch(() => undefined);
        const record = await expectChargedOnce(requestId, before);
        expect(record).toMatchObject({ status: 499, errorCode: 'client_disconnected' });
      });

      it('when the upstream cuts the stream off', async () => {
        await fund(worstCase * 20, payerWallet);
        const before = await billing<{ balance: number }>('/api/billing/balance');
        harness.primary.setHandler(() => ({
          kind: 'sse',
          events: pacedAnswer,
          eventDelayMs: 10,
          resetAfterEvents: 12,
        }));
        const response = await send();
        expect(response.status).toBe(200);
        const text = await response.text();
        expect(text).toContain('word5');
        // Never a quiet end: the client gets an error event, and no [DONE].
        expect(text).toContain('stream_interrupted');
        expect(text).not.toContain('[DONE]');
        const record = await expectChargedOnce(response.headers.get('x-request-id')!, before);
        expect(record).toMatchObject({ status: 502, errorCode: 'stream_interrupted' });
      });
    });
  });
}
