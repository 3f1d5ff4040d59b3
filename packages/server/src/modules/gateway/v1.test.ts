import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import {
  type FakeResponse,
  readChunksFixture,
  readJsonFixture,
  readNamedChunksFixture,
} from '@webox/gateway/testing';
import { eq } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { type GatewayHarness, startGatewayHarness } from '../../testing/gateway-harness.js';
import { setWalletPlan } from '../billing/plans.js';
import { hashVirtualKey, revokeVirtualKey } from './keys-service.js';
import { virtualKeys } from './tables.js';

const fixtures = fileURLToPath(
  new URL('../../../../gateway/src/providers/openai-compatible/__fixtures__/', import.meta.url),
);
const fixture = (name: string) => `${fixtures}${name}`;

for (const pair of backendPairs()) {
  describe(`/v1 end to end with the official SDKs on ${pair.name}`, () => {
    let harness: GatewayHarness;
    let key: string;
    let openai: OpenAI;
    const logs: string[] = [];

    beforeAll(async () => {
      harness = await startGatewayHarness(pair, {
        env: { LOG_LEVEL: 'warn' },
        logStream: { write: (line) => void logs.push(line) },
      });
      key = await harness.createKey();
      openai = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: key, maxRetries: 0 });
    });
    afterAll(() => harness.close());
    beforeEach(() => {
      harness.primary.requests.length = 0;
      harness.backup.requests.length = 0;
      harness.primary.setHandler(() => ({
        kind: 'json',
        status: 500,
        body: { error: { message: 'unexpected call' } },
      }));
      harness.backup.setHandler(() => ({
        kind: 'json',
        status: 500,
        body: { error: { message: 'unexpected call' } },
      }));
    });

    it('answers a plain completion and sends the provider exactly the request it expects', async () => {
      harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
      const { data, response } = await openai.chat.completions
        .create({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'Hello' }],
          temperature: 0.2,
          seed: 7,
        })
        .withResponse();
      expect(data.choices[0]?.message.content).toBe('Hello! How can I assist you today?');
      expect(data.model).toBe('gpt-test');
      expect(response.headers.get('x-webox-provider')).toBe('primary');
      const sent = harness.primary.requests[0]!;
      expect(sent.path).toBe('/v1/chat/completions');
      expect(sent.headers.authorization).toMatch(/^Bearer test-primary-/);
      expect(sent.body).toMatchObject({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello' }],
        temperature: 0.2,
        seed: 7,
      });
      const record = await harness.usageRecordOf(response.headers.get('x-request-id')!);
      expect(record).toMatchObject({
        status: 200,
        requestedModel: 'gpt-test',
        servedModel: 'gpt-test',
        provider: 'primary',
        inputTokens: 19,
        outputTokens: 10,
        cacheHit: false,
        stream: false,
      });
    });

    it('streams text and, when asked, a final usage chunk', async () => {
      harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
      const stream = await openai.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'Say hello' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined | null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('Hello, world!');
      expect(usage).toMatchObject({ prompt_tokens: 1200, completion_tokens: 40 });
      expect(usage?.prompt_tokens_details?.cached_tokens).toBe(1024);
      expect(harness.primary.requests[0]!.body).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it('answers a request with a parameter named in another script, naming it in a header that stays Latin-1', async () => {
      const body = { model: 'gpt-test', messages: [{ role: 'user', content: 'Hi' }], مفتاح: 1 };
      for (const stream of [false, true]) {
        if (stream) {
          harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
        } else {
          harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
        }
        const response = await fetch(`${harness.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...body, stream }),
          signal: AbortSignal.timeout(10_000),
        });
        expect(response.status).toBe(200);
        const warning = response.headers.get('x-webox-warnings') ?? '';
        expect(decodeURIComponent(warning)).toContain('parameter "مفتاح" is not supported');
        const text = await response.text();
        expect(text).toContain(stream ? 'data: [DONE]' : 'Hello! How can I assist you today?');
      }
    });

    it('streams tool-call deltas that the SDK assembles into a call', async () => {
      harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(fixture('tool-call.chunks.txt')) });
      const runner = openai.chat.completions.stream({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'Weather in Algiers?' }],
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
          },
        ],
        tool_choice: 'auto',
      });
      const final = await runner.finalChatCompletion();
      const call = final.choices[0]?.message.tool_calls?.[0];
      expect(call?.type === 'function' && call.function.name).toBe('get_weather');
      expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual(expect.any(Object));
      expect(harness.primary.requests[0]!.body).toMatchObject({
        tool_choice: 'auto',
        tools: [{ type: 'function' }],
      });
    });

    it('passes JSON mode through', async () => {
      harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
      await openai.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'JSON please' }],
        response_format: { type: 'json_object' },
      });
      expect(harness.primary.requests[0]!.body).toMatchObject({ response_format: { type: 'json_object' } });
    });

    it('creates embeddings', async () => {
      harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('embeddings.json')) });
      const result = await openai.embeddings.create({ model: 'embed-test', input: ['one', 'two'] });
      expect(result.data).toHaveLength(2);
      expect(harness.primary.requests[0]!.path).toBe('/v1/embeddings');
      expect(harness.primary.requests[0]!.body).toMatchObject({
        model: 'text-embedding-3-small',
        input: ['one', 'two'],
      });
    });

    it('lists models and aliases with provider, context window and price', async () => {
      const models = await openai.models.list();
      const ids = models.data.map((model) => model.id);
      expect(ids).toEqual(expect.arrayContaining(['gpt-test', 'claude-test', 'smart']));
      const gpt = models.data.find((model) => model.id === 'gpt-test') as unknown as Record<string, unknown>;
      expect(gpt).toMatchObject({
        owned_by: 'primary',
        context_window: 128_000,
        price: { inputPerMillion: 150_000 },
      });
    });

    it('falls back to the next target when the first keeps failing, before any byte reached the client', async () => {
      harness.primary.setHandler(() => ({
        kind: 'json',
        status: 503,
        body: { error: { message: 'overloaded' } },
      }));
      harness.backup.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
      const { data, response } = await openai.chat.completions
        .create({ model: 'smart', messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.choices[0]?.message.content).toContain('Hello');
      expect(response.headers.get('x-webox-provider')).toBe('backup');
      expect(harness.primary.requests.length).toBeGreaterThanOrEqual(1);
      expect(harness.backup.requests[0]!.body).toMatchObject({ model: 'backup-model' });
    });

    it("routes by the caller's plan: a route variant for pro callers, the default for the rest", async () => {
      const proUser = await harness.createUser(`pro-${Math.random().toString(36).slice(2)}@example.com`);
      const wallet = await harness.app.billing.userWallet(proUser);
      await setWalletPlan(harness.database.db, { walletId: wallet.id, plan: 'pro' });
      const proKey = await harness.createKey({ userId: proUser });
      harness.primary.setHandler(() => ({ kind: 'json', body: readJsonFixture(fixture('text.json')) }));
      harness.backup.setHandler(() => ({ kind: 'json', body: readJsonFixture(fixture('text.json')) }));
      const ask = (apiKey: string) =>
        new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey, maxRetries: 0 }).chat.completions
          .create({ model: 'tiered', messages: [{ role: 'user', content: 'Hi' }] })
          .withResponse();
      expect((await ask(proKey)).response.headers.get('x-webox-provider')).toBe('backup');
      expect((await ask(key)).response.headers.get('x-webox-provider')).toBe('primary');
    });

    /** Streams "Hi" to `model` through /v1/messages with the Anthropic SDK: the final message and every event's type. */
    async function streamMessage(model: string) {
      const anthropic = new Anthropic({ baseURL: harness.origin, apiKey: key, maxRetries: 0 });
      const events: string[] = [];
      const stream = anthropic.messages.stream({
        model,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      stream.on('streamEvent', (event) => events.push(event.type));
      return { final: await stream.finalMessage(), events };
    }

    it('serves Anthropic SDK clients through /v1/messages, routed to an OpenAI-compatible provider', async () => {
      const anthropic = new Anthropic({ baseURL: harness.origin, apiKey: key, maxRetries: 0 });
      harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
      const message = await anthropic.messages.create({
        model: 'gpt-test',
        max_tokens: 256,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Hello' }],
      });
      expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello! How can I assist you today?' });
      expect(message.usage).toMatchObject({ input_tokens: 19, output_tokens: 10 });
      expect(harness.primary.requests[0]!.body).toMatchObject({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello' },
        ],
      });

      harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
      const { final, events } = await streamMessage('gpt-test');
      expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello, world!' });
      expect(events[0]).toBe('message_start');
      expect(events.at(-1)).toBe('message_stop');
      expect(events).toContain('content_block_delta');
    });

    it('opens a /v1/messages stream with one message_start when the first target failed right after its own', async () => {
      harness.primary.setHandler(() => ({
        kind: 'sse',
        events: readNamedChunksFixture(
          fileURLToPath(
            new URL(
              '../../../../gateway/src/providers/anthropic/__fixtures__/overloaded-at-start.chunks.txt',
              import.meta.url,
            ),
          ),
        ),
        eventDelayMs: 20,
      }));
      harness.backup.setHandler(() => ({
        kind: 'sse',
        events: readChunksFixture(fixture('text.chunks.txt')),
      }));
      const { final, events } = await streamMessage('claude-first');
      expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello, world!' });
      expect(events[0]).toBe('message_start');
      expect(events.filter((type) => type === 'message_start')).toHaveLength(1);
      expect(events.at(-1)).toBe('message_stop');
      expect(harness.primary.requests.length).toBeGreaterThanOrEqual(1);
    });

    it('turns a stream cut after the first byte into an error for the client, and bills what was delivered', async () => {
      harness.primary.enqueue({
        kind: 'sse',
        events: readChunksFixture(fixture('text.chunks.txt')),
        resetAfterEvents: 3,
      });
      const { data: stream, response } = await openai.chat.completions
        .create({ model: 'smart', messages: [{ role: 'user', content: 'Hi' }], stream: true })
        .withResponse();
      let text = '';
      await expect(
        (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        })(),
      ).rejects.toThrow();
      expect(text.length).toBeGreaterThan(0);
      // No fallback after the first byte: the backup was never called.
      expect(harness.backup.requests).toHaveLength(0);
      const record = await harness.usageRecordOf(response.headers.get('x-request-id')!);
      expect(record?.errorCode).toBe('stream_interrupted');
      expect(record?.outputTokens).toBeGreaterThan(0);
    });

    describe('an answer a provider accepted (200) but the gateway could not read', () => {
      // The SDKs retry a 502 twice by default; the provider has already done (and may bill) the work, so the gateway
      // tells them not to, and a retryable failure is still left to them.
      const openaiRetrying = (maxRetries = 2) =>
        new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: key, maxRetries });
      const anthropicRetrying = (maxRetries = 2) =>
        new Anthropic({ baseURL: harness.origin, apiKey: key, maxRetries });
      const hi = [{ role: 'user' as const, content: 'Hi' }];
      /** The error code of an SDK's error: OpenAI's reads it from the body, Anthropic's keeps the body whole. */
      const codeOf = (error: unknown) => {
        const caught = error as { code?: string; error?: { error?: { code?: string } } };
        return caught.code ?? caught.error?.error?.code;
      };
      const roleOnly = () => readChunksFixture(fixture('text.chunks.txt')).slice(0, 1);
      const unreadable: Array<{ name: string; answer: FakeResponse; call: () => Promise<unknown> }> = [
        {
          name: 'OpenAI SDK, a 200 whose body is an error',
          answer: { kind: 'json', body: { error: { message: 'internal failure', type: 'server_error' } } },
          call: () => openaiRetrying().chat.completions.create({ model: 'gpt-test', messages: hi }),
        },
        {
          name: 'OpenAI SDK, a stream cut after its opening, before any content',
          answer: { kind: 'sse', events: roleOnly(), resetAfterEvents: 1 },
          call: () =>
            openaiRetrying().chat.completions.create({ model: 'gpt-test', messages: hi, stream: true }),
        },
        {
          name: 'OpenAI SDK, embeddings of another shape',
          answer: { kind: 'json', body: { object: 'list', vectors: [[0.1, 0.2]] } },
          call: () => openaiRetrying().embeddings.create({ model: 'embed-test', input: 'Hi' }),
        },
        {
          name: 'Anthropic SDK, a body that is not JSON',
          answer: { kind: 'raw', status: 200, contentType: 'application/json', body: '{"choices": [' },
          call: () =>
            anthropicRetrying().messages.create({ model: 'gpt-test', max_tokens: 16, messages: hi }),
        },
        {
          name: 'Anthropic SDK, a stream cut after its opening, before any content',
          answer: { kind: 'sse', events: roleOnly(), resetAfterEvents: 1 },
          call: () =>
            anthropicRetrying().messages.create({
              model: 'gpt-test',
              max_tokens: 16,
              messages: hi,
              stream: true,
            }),
        },
      ];
      for (const failure of unreadable) {
        it(`answers 502 upstream_invalid_response with x-should-retry: false, and the SDK does not send it again (${failure.name})`, async () => {
          harness.primary.setHandler(() => failure.answer);
          const error = await failure.call().catch((caught: unknown) => caught);
          expect(error).toMatchObject({ status: 502 });
          const { headers } = error as { headers: Headers };
          expect(headers.get('x-should-retry')).toBe('false');
          expect(codeOf(error)).toBe('upstream_invalid_response');
          expect(harness.primary.requests).toHaveLength(1);
          const record = await harness.usageRecordOf(headers.get('x-request-id')!);
          expect(record).toMatchObject({ status: 502, errorCode: 'upstream_invalid_response' });
        });
      }

      const unavailable = [
        {
          name: 'OpenAI SDK',
          call: () => openaiRetrying(1).chat.completions.create({ model: 'gpt-test', messages: hi }),
        },
        {
          name: 'Anthropic SDK',
          call: () =>
            anthropicRetrying(1).messages.create({ model: 'gpt-test', max_tokens: 16, messages: hi }),
        },
      ];
      for (const client of unavailable) {
        it(`leaves an upstream that is unavailable to the SDK's own retries, without x-should-retry (${client.name})`, async () => {
          harness.primary.setHandler(() => ({
            kind: 'json',
            status: 503,
            body: { error: { message: 'overloaded' } },
          }));
          const error = await client.call().catch((caught: unknown) => caught);
          expect(error).toMatchObject({ status: 503 });
          expect((error as { headers: Headers }).headers.get('x-should-retry')).toBeNull();
          expect(codeOf(error)).toBe('upstream_unavailable');
          // The gateway's two attempts, then the same again for the SDK's retry: nothing was done upstream.
          expect(harness.primary.requests).toHaveLength(4);
        });
      }
    });

    it('never shows a client the upstream key, even when the provider echoes it', async () => {
      harness.primary.setHandler((request) => ({
        kind: 'json',
        status: 401,
        body: {
          error: {
            message: `Incorrect API key provided: ${String(request.headers.authorization)}`,
            code: 'invalid_api_key',
          },
        },
      }));
      const response = await fetch(`${harness.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      const text = await response.text();
      expect(response.status).toBe(502);
      expect(JSON.parse(text).error.code).toBe('upstream_auth_failed');
      expect(text).not.toMatch(/test-primary-/);
    });

    describe('keys and limits', () => {
      it('refuses a missing, unknown or revoked key with 401 in the OpenAI error shape', async () => {
        const bare = await fetch(`${harness.origin}/v1/models`);
        expect(bare.status).toBe(401);
        expect(((await bare.json()) as { error: unknown }).error).toMatchObject({
          type: 'authentication_error',
          code: 'unauthenticated',
        });

        const unknown = new OpenAI({
          baseURL: `${harness.origin}/v1`,
          apiKey: 'wbx_not-a-real-key',
          maxRetries: 0,
        });
        await expect(unknown.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

        const doomed = await harness.createKey();
        const client = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: doomed, maxRetries: 0 });
        await client.models.list();
        const [row] = await harness.database.db
          .select()
          .from(virtualKeys)
          .where(eq(virtualKeys.secretHash, hashVirtualKey(doomed)));
        const keyId = row!.id;
        await revokeVirtualKey(harness.database.db, harness.stores.pubSub, { userId: harness.userId, keyId });
        await expect
          .poll(
            async () =>
              (await fetch(`${harness.origin}/v1/models`, { headers: { authorization: `Bearer ${doomed}` } }))
                .status,
          )
          .toBe(401);
      });

      it('keeps a key to its allowed models', async () => {
        const limited = await harness.createKey({ allowedModels: ['gpt-test'] });
        const client = new OpenAI({ baseURL: `${harness.origin}/v1`, apiKey: limited, maxRetries: 0 });
        expect((await client.models.list()).data.map((model) => model.id)).toEqual(['gpt-test']);
        await expect(
          client.chat.completions.create({
            model: 'claude-test',
            messages: [{ role: 'user', content: 'Hi' }],
          }),
        ).rejects.toMatchObject({ status: 403, code: 'model_not_allowed' });
        expect(harness.primary.requests).toHaveLength(0);
      });

      it('answers an unknown model with 404 model_not_found without calling anyone', async () => {
        await expect(
          openai.chat.completions.create({
            model: 'no-such-model',
            messages: [{ role: 'user', content: 'Hi' }],
          }),
        ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
      });

      it('answers 404 model_not_found for a model named after what every object inherits, logging no error', async () => {
        logs.length = 0;
        const post = (path: string, body: unknown) =>
          fetch(`${harness.origin}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        for (const model of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
          const messages = [{ role: 'user', content: 'Hi' }];
          for (const [path, body] of [
            ['/v1/chat/completions', { model, messages }],
            ['/v1/chat/completions', { model, messages, stream: true }],
            ['/v1/embeddings', { model, input: 'Hi' }],
          ] as const) {
            const response = await post(path, body);
            expect(response.status, `${path} ${model}`).toBe(404);
            expect(await response.json()).toEqual({
              error: {
                type: 'invalid_request_error',
                code: 'model_not_found',
                message: `The model "${model}" does not exist or is not available here.`,
                param: null,
              },
            });
          }
          const anthropic = await post('/v1/messages', { model, max_tokens: 10, messages });
          expect(anthropic.status, `/v1/messages ${model}`).toBe(404);
          expect(await anthropic.json()).toMatchObject({
            type: 'error',
            error: { code: 'model_not_found' },
          });
        }
        expect(harness.primary.requests).toHaveLength(0);
        expect(logs.filter((line) => JSON.parse(line).level >= 50)).toEqual([]);
      });

      it('enforces a per-key requests-per-minute limit with 429 and Retry-After', async () => {
        const limited = await harness.createKey({ rpmLimit: 2 });
        const statuses: number[] = [];
        let retryAfter: string | null = null;
        for (let index = 0; index < 3; index++) {
          const response = await fetch(`${harness.origin}/v1/models`, {
            headers: { authorization: `Bearer ${limited}` },
          });
          statuses.push(response.status);
          if (response.status === 429) retryAfter = response.headers.get('retry-after');
        }
        expect(statuses).toEqual([200, 200, 429]);
        expect(Number(retryAfter)).toBeGreaterThan(0);
      });

      it('rejects a malformed request body with a 400 that names the field', async () => {
        const response = await fetch(`${harness.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-test', messages: 'not a list' }),
        });
        expect(response.status).toBe(400);
        const body = (await response.json()) as { error: unknown };
        expect(body.error).toMatchObject({
          type: 'invalid_request_error',
          code: 'validation_failed',
          param: 'messages',
        });
      });

      it('refuses a body carrying __proto__ before anything is called (a body is copied onto a fresh object)', async () => {
        const response = await fetch(`${harness.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: '{"model":"gpt-test","messages":[{"role":"user","content":"Hi"}],"__proto__":{"n":1000}}',
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
        expect(harness.primary.requests).toHaveLength(0);
      });

      it('refuses a model name PostgreSQL cannot store, and the usage records around it are all written', async () => {
        harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
        const call = (model: string) =>
          fetch(`${harness.origin}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            // Written by hand: JSON.stringify would escape the lone surrogate the same way, but this is explicit.
            body: `{"model":${JSON.stringify(model)},"messages":[{"role":"user","content":"Hi"}]}`,
          });
        for (const model of ['gpt\u0000test', 'gpt-test\ud800', 'x'.repeat(300)]) {
          const refused = await call(model);
          expect(refused.status).toBe(400);
          expect(await refused.json()).toMatchObject({
            error: { code: 'validation_failed', param: 'model' },
          });
        }
        // An unknown (but storable) name is recorded with the answer that served: one batch, every row in it.
        const unknown = await call('no-such-model');
        expect(unknown.status).toBe(404);
        const served = await call('gpt-test');
        expect(served.status).toBe(200);
        expect(await harness.usageRecordOf(unknown.headers.get('x-request-id')!)).toMatchObject({
          status: 404,
        });
        expect(await harness.usageRecordOf(served.headers.get('x-request-id')!)).toMatchObject({
          status: 200,
        });
      });
    });

    describe('response cache', () => {
      it('answers a repeated opted-in request from the cache without calling the provider, streams included', async () => {
        harness.primary.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
        const request = {
          model: 'gpt-test',
          messages: [{ role: 'user' as const, content: `cache me ${Math.random()}` }],
        };
        const options = { headers: { 'x-webox-cache': 'true' } };
        const first = await openai.chat.completions.create(request, options).withResponse();
        const second = await openai.chat.completions.create(request, options).withResponse();
        expect(first.response.headers.get('x-webox-cache')).toBe('miss');
        expect(second.response.headers.get('x-webox-cache')).toBe('hit');
        expect(second.data.choices[0]?.message.content).toBe(first.data.choices[0]?.message.content);
        expect(harness.primary.requests).toHaveLength(1);

        harness.primary.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
        const read = async () => {
          let text = '';
          const stream = await openai.chat.completions.create({ ...request, stream: true }, options);
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
          return text;
        };
        expect(await read()).toBe('Hello, world!');
        await expect.poll(read).toBe('Hello, world!');
        expect(harness.primary.requests).toHaveLength(2);
      });
    });
  });
}
