import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from './config.js';
import { createGateway, type Gateway, type GatewayLogger } from './gateway.js';
import { classifyMediaPart } from './provider-utils/media-part.js';
import { MemoryBreakerStore } from './resilience/breaker-store.js';
import { GatewayError } from './spec/gateway-error.js';
import type { ChatCompletionRequest } from './spec/openai-types.js';
import {
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  startFakeUpstream,
} from './testing/fake-upstream.js';
import {
  collect,
  collectSettled,
  emptyContext,
  fastResilience,
  parseConfig,
  providerFixture,
} from './testing/helpers.js';

const openAIFixture = (name: string) => providerFixture('openai-compatible', name);
const textAnswer = () => ({ kind: 'json' as const, body: readJsonFixture(openAIFixture('text.json')) });
const textStream = () => ({
  kind: 'sse' as const,
  events: readChunksFixture(openAIFixture('text.chunks.txt')),
});
const serverError = () => ({ kind: 'json' as const, status: 500, body: { error: { message: 'internal' } } });
const hello: ChatCompletionRequest = { model: 'smart', messages: [{ role: 'user', content: 'Hi' }] };
const helloStream: ChatCompletionRequest = { ...hello, stream: true };

const primaryKey = 'sk-primary-0123456789abcdef';
const secondaryKey = 'sk-secondary-0123456789abcdef';

describe('gateway resilience against a faulty upstream', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;

  beforeEach(async () => {
    primary = await startFakeUpstream();
    secondary = await startFakeUpstream();
  });
  afterEach(async () => {
    await Promise.all([primary.close(), secondary.close()]);
  });

  function build(
    overrides: Partial<GatewayConfigInput> = {},
    extra: { logger?: GatewayLogger; breakerStore?: MemoryBreakerStore } = {},
  ): Gateway {
    return createGateway({
      config: parseConfig({
        providers: {
          first: {
            type: 'openai-compatible',
            preset: 'openai',
            baseUrl: primary.url,
            keys: [primaryKey],
            allowPrivateNetwork: true,
          },
          second: {
            type: 'openai-compatible',
            preset: 'groq',
            baseUrl: secondary.url,
            keys: [secondaryKey],
            allowPrivateNetwork: true,
          },
        },
        models: {
          'model-a': {
            provider: 'first',
            model: 'upstream-a',
            contextWindow: 8000,
            price: { inputPerMillion: 100, outputPerMillion: 400 },
          },
          'model-b': {
            provider: 'second',
            model: 'upstream-b',
            contextWindow: 32000,
            price: { inputPerMillion: 50, outputPerMillion: 900 },
          },
        },
        routes: { smart: { strategy: 'fallback', targets: [{ model: 'model-a' }, { model: 'model-b' }] } },
        resilience: fastResilience,
        ...overrides,
      }),
      ...extra,
    });
  }

  it('serves token-id embeddings on the next target that reads them, one that embeds text only never called', async () => {
    const gateway = build({
      providers: {
        first: { type: 'cohere', baseUrl: primary.url, keys: [primaryKey], allowPrivateNetwork: true },
        second: {
          type: 'openai-compatible',
          preset: 'openai',
          baseUrl: secondary.url,
          keys: [secondaryKey],
          allowPrivateNetwork: true,
        },
      },
      models: {
        'embed-cohere': {
          provider: 'first',
          model: 'embed-v4.0',
          contextWindow: 128_000,
          capabilities: ['embeddings'],
        },
        'embed-openai': {
          provider: 'second',
          model: 'text-embedding-3-small',
          contextWindow: 8_191,
          capabilities: ['embeddings'],
        },
      },
      routes: { vectors: { targets: [{ model: 'embed-cohere' }, { model: 'embed-openai' }] } },
    });
    secondary.enqueue({ kind: 'json', body: readJsonFixture(openAIFixture('embeddings.json')) });
    const tokenIds = [[15_339, 1_917], [2_001]];
    const result = await gateway.embeddings({ model: 'vectors', input: tokenIds }, emptyContext);
    expect(result.served.provider).toBe('second');
    expect(result.attempts[0]).toMatchObject({
      provider: 'first',
      outcome: 'skipped',
      code: 'invalid_request',
    });
    expect(secondary.requests[0]?.body).toEqual({ model: 'text-embedding-3-small', input: tokenIds });
    expect(primary.requests).toHaveLength(0);
    expect(gateway.health().find((entry) => entry.provider === 'first')).toMatchObject({ samples: 0 });

    // Text still goes to Cohere first.
    primary.enqueue({
      kind: 'json',
      body: readJsonFixture(new URL('./providers/cohere/__fixtures__/embed.json', import.meta.url)),
    });
    const text = await gateway.embeddings({ model: 'vectors', input: ['hello', 'goodbye'] }, emptyContext);
    expect(text.served.provider).toBe('first');
  });

  it('retries a 500 on the same target, then succeeds', async () => {
    primary.enqueue(serverError(), textAnswer());
    const result = await build().chat(hello, emptyContext);
    expect(result.served.provider).toBe('first');
    expect(result.attempts.map((attempt) => attempt.outcome)).toEqual(['error', 'success']);
    expect(result.attempts[0]).toMatchObject({ code: 'upstream_error', upstreamStatus: 500 });
    expect(primary.requests).toHaveLength(2);
  });

  it('honours Retry-After on a 429', async () => {
    primary.enqueue(
      {
        kind: 'json',
        status: 429,
        body: { error: { message: 'slow down' } },
        headers: { 'retry-after': '1' },
      },
      textAnswer(),
    );
    const started = Date.now();
    const result = await build().chat(hello, emptyContext);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(result.served.provider).toBe('first');
  });

  it('moves to the next target at once when Retry-After exceeds the cap', async () => {
    primary.enqueue({ kind: 'json', status: 429, body: {}, headers: { 'retry-after': '3600' } });
    secondary.enqueue(textAnswer());
    const started = Date.now();
    const result = await build().chat(hello, emptyContext);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.served.provider).toBe('second');
  });

  it('falls back to the next target after an attempt timeout', async () => {
    primary.enqueue({ kind: 'hang' });
    secondary.enqueue(textAnswer());
    const gateway = build({ resilience: { ...fastResilience, attemptTimeoutMs: 300 } });
    const result = await gateway.chat(hello, emptyContext);
    expect(result.served.provider).toBe('second');
    expect(result.attempts[0]).toMatchObject({ outcome: 'error', code: 'upstream_timeout' });
    // A timed-out target is not retried: one request only.
    expect(primary.requests).toHaveLength(1);
  });

  it('returns 504 when every target times out', async () => {
    primary.setHandler(() => ({ kind: 'hang' }));
    secondary.setHandler(() => ({ kind: 'hang' }));
    const gateway = build({ resilience: { ...fastResilience, attemptTimeoutMs: 200 } });
    const error = (await gateway
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
  });

  it('falls back when the connection is reset before a stream starts', async () => {
    primary.setHandler(() => ({ kind: 'reset' }));
    secondary.enqueue(textStream());
    const result = await build().chatStream(helloStream, emptyContext);
    const chunks = await collect(result.chunks);
    expect(result.served.provider).toBe('second');
    expect(result.attempts.filter((attempt) => attempt.code === 'connection_error')).toHaveLength(2);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world!');
  });

  it('throws stream_interrupted when the connection resets during a stream, with usage for what was delivered', async () => {
    primary.enqueue({
      kind: 'sse',
      events: readChunksFixture(openAIFixture('text.chunks.txt')),
      resetAfterEvents: 3,
    });
    secondary.enqueue(textStream());
    const result = await build().chatStream(helloStream, emptyContext);
    const { items, error } = await collectSettled(result.chunks);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(items.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world');
    // No fallback after the first byte.
    expect(secondary.requests).toHaveLength(0);
    const usage = result.usage();
    expect(usage.outputTokens).toBe(3);
    expect(usage.inputTokens).toBeGreaterThan(0);
  });

  it('times a stream out on silence between events, not on its whole length (the timer restarts per event)', async () => {
    const gateway = build({ resilience: { ...fastResilience, attemptTimeoutMs: 500 } });
    // 7 events 100 ms apart: 700 ms in all, yet never 500 ms of silence (room for a late timer on a loaded machine).
    primary.enqueue({
      kind: 'sse',
      events: readChunksFixture(openAIFixture('text.chunks.txt')),
      eventDelayMs: 100,
    });
    const paced = await gateway.chatStream(helloStream, emptyContext);
    const chunks = await collect(paced.chunks);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world!');
    expect(paced.attempts).toHaveLength(1);
  });

  it('interrupts on malformed SSE after the first chunk', async () => {
    const events = readChunksFixture(openAIFixture('text.chunks.txt')).slice(0, 2);
    primary.enqueue({ kind: 'sse', events: [...events, { data: '{"choices": [unterminated' }] });
    const result = await build().chatStream(helloStream, emptyContext);
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
  });

  it('throws stream_interrupted when the stream ends without its final event', async () => {
    primary.enqueue({ kind: 'sse', events: readChunksFixture(openAIFixture('truncated.chunks.txt')) });
    const result = await build().chatStream(helloStream, emptyContext);
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(result.usage().outputTokens).toBe(11);
  });

  it('does not fall back on a client error', async () => {
    primary.enqueue({
      kind: 'json',
      status: 400,
      body: { error: { message: 'messages[0].content is invalid' } },
    });
    const error = (await build()
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(secondary.requests).toHaveLength(0);
  });

  it('falls back on context length only when the route allows it', async () => {
    const tooLong = {
      kind: 'json' as const,
      status: 400,
      body: readJsonFixture(openAIFixture('error-context-length.json')),
    };
    primary.enqueue(tooLong);
    const strict = (await build()
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(strict.code).toBe('context_length_exceeded');
    primary.enqueue(tooLong);
    secondary.enqueue(textAnswer());
    const lenient = build({
      routes: {
        smart: { targets: [{ model: 'model-a' }, { model: 'model-b' }], fallbackOnContextLength: true },
      },
    });
    const result = await lenient.chat(hello, emptyContext);
    expect(result.served.model).toBe('model-b');
  });

  it('returns the last error when every target fails', async () => {
    primary.setHandler(serverError);
    secondary.setHandler(() => ({ kind: 'json', status: 503, body: {} }));
    const error = (await build()
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.status).toBe(503);
    expect(error.provider).toBe('second');
    expect(primary.requests).toHaveLength(2);
    expect(secondary.requests).toHaveLength(2);
  });

  it('opens the breaker after consecutive failures and lets one probe through after openMs', async () => {
    primary.setHandler(serverError);
    // The breaker's clock is the test's: a slow machine cannot let openMs lapse before the blocked call.
    let time = 0;
    const gateway = build(
      {
        routes: {},
        resilience: {
          ...fastResilience,
          retry: { ...fastResilience.retry, attempts: 1 },
          breaker: { failureThreshold: 3, openMs: 300 },
        },
      },
      { breakerStore: new MemoryBreakerStore({ now: () => time }) },
    );
    const single = { ...hello, model: 'model-a' };
    for (let call = 0; call < 3; call += 1) await gateway.chat(single, emptyContext).catch(() => undefined);
    expect(primary.requests).toHaveLength(3);
    const blocked = (await gateway
      .chat(single, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(blocked.code).toBe('upstream_unavailable');
    expect(primary.requests).toHaveLength(3);
    time += 350;
    primary.setHandler(textAnswer);
    const probe = await gateway.chat(single, emptyContext);
    expect(probe.served.provider).toBe('first');
    expect(primary.requests).toHaveLength(4);
    // Closed again: traffic flows.
    await gateway.chat(single, emptyContext);
    expect(primary.requests).toHaveLength(5);
  });

  it('re-opens the breaker when the half-open probe fails', async () => {
    primary.setHandler(serverError);
    let time = 0;
    const store = new MemoryBreakerStore({ now: () => time });
    const gateway = build(
      {
        routes: {},
        resilience: {
          ...fastResilience,
          retry: { ...fastResilience.retry, attempts: 1 },
          breaker: { failureThreshold: 2, openMs: 200 },
        },
      },
      { breakerStore: store },
    );
    const single = { ...hello, model: 'model-a' };
    for (let call = 0; call < 2; call += 1) await gateway.chat(single, emptyContext).catch(() => undefined);
    time += 250;
    await gateway.chat(single, emptyContext).catch(() => undefined);
    expect(primary.requests).toHaveLength(3);
    await gateway.chat(single, emptyContext).catch(() => undefined);
    expect(primary.requests).toHaveLength(3);
  });

  it('rotates keys round robin and skips a key whose breaker is open', async () => {
    const gateway = createGateway({
      config: parseConfig({
        providers: {
          first: {
            type: 'openai-compatible',
            preset: 'openai',
            baseUrl: primary.url,
            keys: ['sk-key-one-aaaaaaaa', 'sk-key-two-bbbbbbbb', ''],
            allowPrivateNetwork: true,
          },
        },
        models: { 'model-a': { provider: 'first', model: 'upstream-a', contextWindow: 8000 } },
        resilience: {
          ...fastResilience,
          retry: { ...fastResilience.retry, attempts: 1 },
          breaker: { failureThreshold: 1, openMs: 60_000 },
        },
      }),
    });
    primary.setHandler(textAnswer);
    const request = { ...hello, model: 'model-a' };
    const first = await gateway.chat(request, emptyContext);
    const second = await gateway.chat(request, emptyContext);
    expect([first.served.keyIndex, second.served.keyIndex]).toEqual([0, 1]);
    expect(primary.requests.map((captured) => captured.headers.authorization)).toEqual([
      'Bearer sk-key-one-aaaaaaaa',
      'Bearer sk-key-two-bbbbbbbb',
    ]);
    // Key one is rejected once: its breaker opens and the next calls use key two only.
    primary.enqueue({ kind: 'json', status: 401, body: { error: { message: 'bad key' } } });
    await gateway.chat(request, emptyContext).catch(() => undefined);
    primary.requests.length = 0;
    await gateway.chat(request, emptyContext);
    await gateway.chat(request, emptyContext);
    expect(primary.requests.map((captured) => captured.headers.authorization)).toEqual([
      'Bearer sk-key-two-bbbbbbbb',
      'Bearer sk-key-two-bbbbbbbb',
    ]);
  });

  it("uses the caller's own key when one is given", async () => {
    primary.enqueue(textAnswer());
    const result = await build().chat(
      { ...hello, model: 'model-a' },
      { metadata: { headers: {} }, keyOverrides: { first: 'sk-caller-own-key-123456' } },
    );
    expect(primary.requests[0]?.headers.authorization).toBe('Bearer sk-caller-own-key-123456');
    expect(result.served.keyIndex).toBe(-1);
  });

  it('makes a provider without platform keys a candidate for a caller who brings one, and says when that key is rejected', async () => {
    const gateway = build({
      providers: {
        first: {
          type: 'openai-compatible',
          preset: 'openai',
          baseUrl: primary.url,
          keys: [],
          allowPrivateNetwork: true,
        },
        second: {
          type: 'openai-compatible',
          preset: 'groq',
          baseUrl: secondary.url,
          keys: [secondaryKey],
          allowPrivateNetwork: true,
        },
      },
    });
    const ownKey = 'sk-own-only-key-987654321';
    const models = (overrides?: Record<string, string>) =>
      gateway.resolve('smart', { headers: {} }, overrides)?.map((target) => target.model);
    expect(models()).toEqual(['model-b']);
    expect(models({ first: ownKey })).toEqual(['model-a', 'model-b']);

    primary.enqueue(textAnswer());
    const served = await gateway.chat(hello, { ...emptyContext, keyOverrides: { first: ownKey } });
    expect(served.served).toMatchObject({ provider: 'first', keyIndex: -1 });
    expect(primary.requests[0]?.headers.authorization).toBe(`Bearer ${ownKey}`);

    // A rejected own key falls back to the platform's next target; alone, it fails with a message the caller
    // can act on, and never the key.
    primary.enqueue({ kind: 'json', status: 401, body: { error: { message: `Bad key ${ownKey}` } } });
    secondary.enqueue(textAnswer());
    const fellBack = await gateway.chat(hello, { ...emptyContext, keyOverrides: { first: ownKey } });
    expect(fellBack.served.provider).toBe('second');
    primary.enqueue({ kind: 'json', status: 401, body: { error: { message: `Bad key ${ownKey}` } } });
    const error = (await gateway
      .chat({ ...hello, model: 'model-a' }, { ...emptyContext, keyOverrides: { first: ownKey } })
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe('upstream_auth_failed');
    expect(error.message).toMatch(/key saved on your account/);
    expect(JSON.stringify(error.toOpenAIError()) + error.message).not.toContain(ownKey);
  });

  it('never puts an upstream key in an error message', async () => {
    const echo = (key: string) => ({
      kind: 'json' as const,
      status: 400,
      body: {
        error: { message: `Invalid request using key ${key} and Bearer ${key}; also ${key.slice(0, 12)}...` },
      },
    });
    primary.enqueue(echo(primaryKey));
    const error = (await build()
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    const exposed = JSON.stringify(error.toOpenAIError()) + error.message;
    expect(exposed).not.toContain(primaryKey);
    expect(exposed).not.toContain(primaryKey.slice(0, 12));
    primary.enqueue({
      kind: 'json',
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${primaryKey}` } },
    });
    secondary.enqueue({
      kind: 'json',
      status: 403,
      body: { error: { message: `Key ${secondaryKey} is disabled` } },
    });
    const authError = (await build()
      .chat(hello, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(authError.code).toBe('upstream_auth_failed');
    expect(authError.status).toBe(502);
    const exposedAuth = JSON.stringify(authError.toOpenAIError());
    expect(exposedAuth).not.toContain(primaryKey);
    expect(exposedAuth).not.toContain(secondaryKey);
    const byoKey = 'sk-byo-zyxwvutsrqponm';
    primary.enqueue(echo(byoKey));
    const byoError = (await build()
      .chat({ ...hello, model: 'model-a' }, { metadata: { headers: {} }, keyOverrides: { first: byoKey } })
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(JSON.stringify(byoError.toOpenAIError())).not.toContain(byoKey);
  });

  it('stops when the caller aborts', async () => {
    primary.setHandler(() => ({ kind: 'hang' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = (await build()
      .chat(hello, { metadata: { headers: {} }, signal: controller.signal })
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.code).toBe('request_aborted');
    expect(secondary.requests).toHaveLength(0);
  });

  it('closes the upstream stream when the client stops reading', async () => {
    primary.enqueue({
      kind: 'sse',
      events: readChunksFixture(openAIFixture('text.chunks.txt')),
      eventDelayMs: 30,
    });
    const result = await build().chatStream(helloStream, emptyContext);
    for await (const _chunk of result.chunks) break;
    expect(result.usage().outputTokens).toBeGreaterThanOrEqual(0);
  });

  it('keeps passive health figures per provider', async () => {
    primary.enqueue(serverError(), serverError());
    secondary.enqueue(textAnswer());
    const gateway = build();
    await gateway.chat(hello, emptyContext);
    const health = gateway.health();
    const first = health.find((entry) => entry.provider === 'first')!;
    const second = health.find((entry) => entry.provider === 'second')!;
    expect(first).toMatchObject({
      samples: 2,
      successRate: 0,
      lastErrorCode: 'upstream_error',
      configured: true,
    });
    expect(second).toMatchObject({ samples: 1, successRate: 1 });
    expect(second.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(second.latencyMs.p99).toBeGreaterThanOrEqual(second.latencyMs.p50);
  });

  it('skips a provider without keys, with a warning at creation', async () => {
    const warnings: string[] = [];
    const logger: GatewayLogger = {
      info: () => undefined,
      warn: (_object, message) => warnings.push(message ?? ''),
      error: () => undefined,
    };
    const gateway = createGateway({
      logger,
      config: parseConfig({
        providers: {
          first: {
            type: 'openai-compatible',
            preset: 'openai',
            baseUrl: primary.url,
            keys: ['', '  '],
            allowPrivateNetwork: true,
          },
          second: {
            type: 'openai-compatible',
            preset: 'groq',
            baseUrl: secondary.url,
            keys: [secondaryKey],
            allowPrivateNetwork: true,
          },
        },
        models: {
          'model-a': { provider: 'first', model: 'upstream-a', contextWindow: 8000 },
          'model-b': { provider: 'second', model: 'upstream-b', contextWindow: 8000 },
        },
        routes: { smart: { targets: [{ model: 'model-a' }, { model: 'model-b' }] } },
        resilience: fastResilience,
      }),
    });
    expect(warnings).toHaveLength(1);
    expect(gateway.resolve('smart', { headers: {} })?.map((target) => target.model)).toEqual(['model-b']);
    secondary.enqueue(textAnswer());
    expect((await gateway.chat(hello, emptyContext)).served.provider).toBe('second');
    expect(gateway.health().find((entry) => entry.provider === 'first')?.configured).toBe(false);
  });

  it('refuses a private base URL unless the provider allows it: a server-side 502 naming no host', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const gateway = createGateway({
      logger: {
        info: () => undefined,
        warn: (object) => logged.push(object),
        error: (object) => logged.push(object),
      },
      config: parseConfig({
        providers: {
          first: { type: 'openai-compatible', preset: 'openai', baseUrl: primary.url, keys: [primaryKey] },
          internal: {
            type: 'openai-compatible',
            preset: 'openai',
            baseUrl: 'http://10.1.2.3:8000/v1',
            keys: [primaryKey],
          },
        },
        models: {
          'model-a': { provider: 'first', model: 'upstream-a', contextWindow: 8000 },
          'model-i': { provider: 'internal', model: 'upstream-i', contextWindow: 8000 },
        },
        resilience: { ...fastResilience, retry: { ...fastResilience.retry, attempts: 1 } },
      }),
    });
    for (const [model, host] of [
      ['model-a', '127.0.0.1'],
      ['model-i', '10.1.2.3'],
    ] as const) {
      const error = (await gateway
        .chat({ ...hello, model }, emptyContext)
        .catch((caught: unknown) => caught)) as GatewayError;
      // The operator's configuration is at fault, not the client's request.
      expect(error).toMatchObject({ status: 502, type: 'upstream_error', code: 'unsafe_url' });
      expect(JSON.stringify(error.toOpenAIError())).not.toContain(host);
      // Whoever runs the gateway learns which host was refused.
      expect(JSON.stringify(logged)).toContain(host);
    }
    expect(primary.requests).toHaveLength(0);
  });

  it('answers 404 for an unknown model and lists models and aliases with the worst-case alias price', () => {
    const gateway = build();
    expect(() => gateway.resolve('nope', { headers: {} })).not.toThrow();
    expect(gateway.resolve('nope', { headers: {} })).toBeUndefined();
    const models = gateway.listModels();
    expect(models.map((model) => model.id)).toEqual(['model-a', 'model-b', 'smart']);
    expect(models.find((model) => model.id === 'smart')).toMatchObject({
      owned_by: 'webox',
      kind: 'alias',
      context_window: 8000,
      price: { inputPerMillion: 100, outputPerMillion: 900 },
    });
    return expect(gateway.chat({ ...hello, model: 'nope' }, emptyContext)).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });

  it('answers 404 for a model named after a member every object inherits, on every operation', async () => {
    const gateway = build();
    for (const model of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(gateway.resolve(model, { headers: {} })).toBeUndefined();
      const failures = await Promise.all([
        gateway.chat({ ...hello, model }, emptyContext).catch((error: unknown) => error),
        gateway.chatStream({ ...helloStream, model }, emptyContext).catch((error: unknown) => error),
        gateway.embeddings({ model, input: 'Hi' }, emptyContext).catch((error: unknown) => error),
      ]);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(GatewayError);
        expect(failure).toMatchObject({ status: 404, code: 'model_not_found' });
      }
    }
    expect(primary.requests).toHaveLength(0);
  });

  it('applies route overrides per target', async () => {
    primary.enqueue(textAnswer());
    const gateway = build({
      routes: { smart: { targets: [{ model: 'model-a', overrides: { max_tokens: 50, temperature: 0 } }] } },
    });
    await gateway.chat({ ...hello, max_tokens: 4000, temperature: 1 }, emptyContext);
    expect(primary.requests[0]?.body).toMatchObject({ max_tokens: 50, temperature: 0 });
    // The client's cap under its other name is replaced as well, and the bound is the override's.
    primary.enqueue(textAnswer());
    await gateway.chat({ ...hello, max_completion_tokens: 4000 }, emptyContext);
    expect(primary.requests[1]?.body).toMatchObject({ max_tokens: 50 });
    expect(primary.requests[1]?.body).not.toHaveProperty('max_completion_tokens');
    expect(
      gateway.outputTokenBound(
        { ...hello, max_completion_tokens: 4000 },
        gateway.resolve('smart', { headers: {} })!,
      ),
    ).toBe(50);
  });

  it('bounds the output of a call as each target sends it, overrides applied, the largest over the targets', () => {
    const gateway = build({
      routes: {
        capped: { targets: [{ model: 'model-a', overrides: { max_tokens: 50_000 } }, { model: 'model-b' }] },
      },
    });
    const targets = gateway.resolve('capped', { headers: {} })!;
    expect(gateway.outputTokenBound({ ...hello, max_tokens: 10 }, targets)).toBe(50_000);
    expect(gateway.outputTokenBound({ ...hello, max_tokens: 10 }, targets.slice(1))).toBe(10);
    expect(gateway.outputTokenBound({ ...hello, max_tokens: 10 }, [])).toBe(0);
  });
});

describe('media token bound', () => {
  it('is the largest of the targets’ documented bounds for what one part carries, 0 without targets', () => {
    const gateway = createGateway({
      config: parseConfig({
        providers: {
          claude: { type: 'anthropic', baseUrl: 'https://claude.example', keys: [primaryKey] },
          openai: { type: 'openai-compatible', preset: 'openai', keys: [secondaryKey] },
          google: { type: 'gemini', keys: [secondaryKey] },
        },
        models: {
          sonnet: { provider: 'claude', model: 'claude-sonnet-4-5', contextWindow: 200_000 },
          mini: { provider: 'openai', model: 'gpt-4o-mini', contextWindow: 128_000 },
          flash: { provider: 'google', model: 'gemini-2.5-flash', contextWindow: 1_048_576 },
        },
        routes: { vision: { targets: [{ model: 'sonnet' }, { model: 'mini' }, { model: 'flash' }] } },
      }),
    });
    const targets = gateway.resolve('vision', { headers: {} })!;
    const image = classifyMediaPart('data:image/png;base64,iVBORw0KGgo=');
    const pdf = classifyMediaPart('data:application/pdf;base64,JVBERi0=');
    const audio = classifyMediaPart('data:audio/mpeg;base64,SUQz');
    const claude = targets.filter((target) => target.provider === 'claude');
    expect(gateway.mediaTokenBound(image, targets)).toBe(48_169);
    expect(gateway.mediaTokenBound(image, claude)).toBe(4_800);
    // Claude and Gemini bill a PDF by the page; Claude's 600 pages of text and image are the most.
    expect(gateway.mediaTokenBound(pdf, targets)).toBe(4_680_000);
    expect(gateway.mediaTokenBound(pdf, targets.slice(1))).toBe(560_000);
    // Claude refuses audio before sending it; Gemini bills it by the second.
    expect(gateway.mediaTokenBound(audio, claude)).toBe(0);
    expect(gateway.mediaTokenBound(audio, targets)).toBe(1_094_400);
    expect(gateway.mediaTokenBound(image, [])).toBe(0);
  });
});

describe('a part a target cannot take', () => {
  let claude: FakeUpstream;
  let gemini: FakeUpstream;
  let gateway: Gateway;

  beforeEach(async () => {
    claude = await startFakeUpstream();
    gemini = await startFakeUpstream();
    gateway = createGateway({
      config: parseConfig({
        providers: {
          claude: { type: 'anthropic', baseUrl: claude.url, keys: [primaryKey], allowPrivateNetwork: true },
          google: { type: 'gemini', baseUrl: gemini.url, keys: [secondaryKey], allowPrivateNetwork: true },
        },
        models: {
          sonnet: { provider: 'claude', model: 'claude-sonnet-4-5', contextWindow: 200_000 },
          flash: { provider: 'google', model: 'gemini-2.5-flash', contextWindow: 1_048_576 },
        },
        routes: { listen: { targets: [{ model: 'sonnet' }, { model: 'flash' }] } },
        resilience: fastResilience,
      }),
    });
  });
  afterEach(async () => {
    await Promise.all([claude.close(), gemini.close()]);
  });

  const withAudio = (model: string, stream = false): ChatCompletionRequest => ({
    model,
    stream,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Transcribe this.' },
          { type: 'image_url', image_url: { url: 'data:audio/mpeg;base64,SUQzBAAAAAAA' } },
        ],
      },
    ],
  });
  const geminiFixture = (name: string) => providerFixture('gemini', name);

  it('goes to the next target that can, without calling the one that cannot or counting against it', async () => {
    gemini.enqueue(
      { kind: 'json', body: readJsonFixture(geminiFixture('text.json')) },
      { kind: 'sse', events: readChunksFixture(geminiFixture('text.chunks.txt')) },
    );
    const answered = await gateway.chat(withAudio('listen'), emptyContext);
    expect(answered.served.provider).toBe('google');
    expect(answered.attempts[0]).toMatchObject({
      provider: 'claude',
      outcome: 'skipped',
      code: 'invalid_request',
    });
    const streamed = await gateway.chatStream(withAudio('listen', true), emptyContext);
    await collect(streamed.chunks);
    expect(streamed.served.provider).toBe('google');
    expect(claude.requests).toHaveLength(0);
    expect((gemini.requests[0]!.body as { contents: unknown[] }).contents).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'Transcribe this.' },
          { inlineData: { mimeType: 'audio/mpeg', data: 'SUQzBAAAAAAA' } },
        ],
      },
    ]);
    expect(gateway.health().find((entry) => entry.provider === 'claude')).toMatchObject({ samples: 0 });
  });

  it('answers 400 with what the model takes when no target can, before any provider is called', async () => {
    for (const request of [withAudio('sonnet'), withAudio('sonnet', true)]) {
      const call = request.stream
        ? gateway.chatStream(request, emptyContext)
        : gateway.chat(request, emptyContext);
      const error = (await call.catch((caught: unknown) => caught)) as GatewayError;
      expect(error).toBeInstanceOf(GatewayError);
      expect(error.toOpenAIError()).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'invalid_request',
          message: 'Claude takes images (JPEG, PNG, GIF or WebP) and PDFs in image_url parts, not audio/mpeg',
          param: 'messages',
        },
      });
    }
    expect(claude.requests).toHaveLength(0);
  });
});

describe('fixtures', () => {
  it('are one SSE payload a line', () => {
    const text = readFileSync(openAIFixture('text.chunks.txt'), 'utf8');
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .every((line) => !line.startsWith('data:')),
    ).toBe(true);
  });
});
