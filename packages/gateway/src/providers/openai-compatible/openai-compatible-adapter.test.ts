import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../gateway.js';
import { classifyMediaPart } from '../../provider-utils/media-part.js';
import { GatewayError } from '../../spec/gateway-error.js';
import type { ChatCompletionChunk } from '../../spec/openai-types.js';
import { MAX_TOKEN_COUNT } from '../../spec/usage.js';
import {
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  startFakeUpstream,
} from '../../testing/fake-upstream.js';
import { collect, collectSettled, emptyContext, fastResilience, parseConfig } from '../../testing/helpers.js';

const fixture = (name: string) => new URL(`./__fixtures__/${name}`, import.meta.url);

describe('openai-compatible adapter', () => {
  let upstream: FakeUpstream;
  let gateway: Gateway;

  function build(preset: 'openai' | 'groq' | 'mistral' | 'deepseek' | 'perplexity' = 'openai') {
    gateway = createGateway({
      config: parseConfig({
        providers: {
          main: {
            type: 'openai-compatible',
            preset,
            baseUrl: upstream.url,
            keys: ['sk-test-key-0001'],
            allowPrivateNetwork: true,
          },
        },
        models: {
          'gpt-4o-mini': {
            provider: 'main',
            model: 'gpt-4o-mini-2024-07-18',
            contextWindow: 128_000,
            capabilities: ['chat', 'tools', 'embeddings'],
          },
        },
        resilience: { ...fastResilience, retry: { ...fastResilience.retry, attempts: 1 } },
      }),
    });
  }

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    build();
  });
  afterEach(async () => {
    await upstream.close();
  });

  it('bounds one image by OpenAI’s documented most, gpt-4o-mini at high detail, on every preset', () => {
    const bound = (url: string) =>
      gateway.mediaTokenBound(classifyMediaPart(url), gateway.resolve('gpt-4o-mini', emptyContext.metadata)!);
    const pdf = 'data:application/pdf;base64,JVBERi0=';
    expect(bound('https://example.com/a.png')).toBe(2_833 + 8 * 5_667);
    // OpenAI takes images only in image_url: a PDF there is refused, never billed as one.
    expect(bound(pdf)).toBe(48_169);
    build('groq');
    expect(bound('https://example.com/a.png')).toBe(48_169);
    // Elsewhere what a PDF there costs is undocumented: the largest documented for one.
    expect(bound(pdf)).toBe(560_000);
    expect(bound('data:audio/wav;base64,UklGRg==')).toBe(1_094_400);
  });

  it('bounds the output it may be billed for by the cap it sends times the n choices it forwards', async () => {
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'Hi' }],
      max_completion_tokens: 10,
      n: 16,
    };
    const bound = () =>
      gateway.outputTokenBound(request, gateway.resolve('gpt-4o-mini', emptyContext.metadata)!);
    expect(bound()).toBe(160);
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(request, emptyContext);
    expect(upstream.requests[0]?.body).toMatchObject({ max_completion_tokens: 10, n: 16 });
    // Groq does not take n: one choice is asked for, and bounded.
    build('groq');
    expect(bound()).toBe(10);
    // Both spellings sent: the larger one bounds.
    expect(
      gateway.outputTokenBound(
        { ...request, max_tokens: 50, n: undefined },
        gateway.resolve('gpt-4o-mini', emptyContext.metadata)!,
      ),
    ).toBe(50);
  });

  it('sends the exact body, path and auth header upstream', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(
      {
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            ],
          },
          { role: 'assistant', content: 'Earlier answer', reasoning_content: 'private thoughts' },
          { role: 'user', content: 'Again' },
        ],
        temperature: 0.2,
        max_completion_tokens: 64,
        stop: ['END'],
        seed: 7,
        user: 'user-1',
        tools: [
          { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
        ],
        tool_choice: 'auto',
        response_format: { type: 'json_object' },
      },
      emptyContext,
    );
    const [request] = upstream.requests;
    expect(request?.path).toBe('/chat/completions');
    expect(request?.headers.authorization).toBe('Bearer sk-test-key-0001');
    expect(request?.body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
        { role: 'assistant', content: 'Earlier answer' },
        { role: 'user', content: 'Again' },
      ],
      temperature: 0.2,
      max_completion_tokens: 64,
      stop: ['END'],
      seed: 7,
      user: 'user-1',
      tools: [
        { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
    });
  });

  it('always asks for streamed usage', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    await collect(result.chunks);
    expect(upstream.requests[0]?.body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('converts a text response and answers with the model the client asked for', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
      emptyContext,
    );
    expect(result.response.model).toBe('gpt-4o-mini');
    expect(result.response.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Hello! How can I assist you today?',
    });
    expect(result.response.choices[0]?.finish_reason).toBe('stop');
    expect(result.usage).toEqual({
      inputTokens: 19,
      outputTokens: 10,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
    expect(result.served).toEqual({ provider: 'main', model: 'gpt-4o-mini', keyIndex: 0 });
  });

  it('estimates the usage of an answer that reports none, its tool calls included, instead of billing nothing', async () => {
    upstream.enqueue({
      kind: 'json',
      body: {
        id: 'chatcmpl-local',
        object: 'chat.completion',
        created: 1,
        model: 'local-model',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Oran"}' },
                },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
      },
    });
    const result = await gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Oran?' }] },
      emptyContext,
    );
    // 16 prompt characters; 'get_weather' and its 15 characters of arguments, 4 a token.
    expect(result.usage).toEqual({
      inputTokens: 4,
      outputTokens: 7,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
    expect(result.response.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 7, total_tokens: 11 });
  });

  it('bounds the token counts a provider reports, so nonsense cannot overflow a usage record or a charge', async () => {
    const body = readJsonFixture(fixture('text.json')) as Record<string, unknown>;
    upstream.enqueue({
      kind: 'json',
      body: {
        ...body,
        usage: {
          prompt_tokens: 3_000_000_000,
          completion_tokens: 12.6,
          total_tokens: 3_000_000_013,
          prompt_tokens_details: { cached_tokens: -5 },
        },
      },
    });
    const result = await gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
      emptyContext,
    );
    expect(result.usage).toEqual({
      inputTokens: MAX_TOKEN_COUNT,
      outputTokens: 13,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('converts tool calls and cached tokens', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('tool-call.json')) });
    const result = await gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }] },
      emptyContext,
    );
    expect(result.response.choices[0]?.message.tool_calls).toEqual([
      {
        id: 'call_abc123',
        type: 'function',
        function: { name: 'get_current_weather', arguments: '{\n"location": "Boston, MA"\n}' },
      },
    ]);
    expect(result.response.choices[0]?.finish_reason).toBe('tool_calls');
    expect(result.usage).toEqual({
      inputTokens: 82,
      outputTokens: 17,
      cachedInputTokens: 64,
      reasoningTokens: 0,
    });
  });

  it('keeps reasoning content and reasoning tokens (DeepSeek)', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('reasoning.json')) });
    const result = await gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: '9.11 vs 9.9' }] },
      emptyContext,
    );
    expect(result.response.choices[0]?.message.reasoning_content).toBe('Compare decimals: 0.11 < 0.9.');
    expect(result.usage.reasoningTokens).toBe(100);
  });

  it('streams text with usage including cached and reasoning tokens', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Hello, world!');
    expect(chunks.every((chunk) => chunk.model === 'gpt-4o-mini' && chunk.id === 'chatcmpl-123')).toBe(true);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 1200, completion_tokens: 40 });
    expect(result.usage()).toEqual({
      inputTokens: 1200,
      outputTokens: 40,
      cachedInputTokens: 1024,
      reasoningTokens: 32,
    });
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });

  it('streams tool-call deltas', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('tool-call.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    const deltas = chunks.flatMap((chunk: ChatCompletionChunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'call_PV1',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    const argumentsByIndex = new Map<number, string>();
    for (const delta of deltas)
      argumentsByIndex.set(
        delta.index,
        (argumentsByIndex.get(delta.index) ?? '') + (delta.function?.arguments ?? ''),
      );
    expect(argumentsByIndex.get(0)).toBe('{"location": "Paris"}');
    expect(argumentsByIndex.get(1)).toBe('{"zone":"CET"}');
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
      'tool_calls',
    );
    expect(result.usage()).toEqual({
      inputTokens: 90,
      outputTokens: 30,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("reads Groq's x_groq usage", async () => {
    build('groq');
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('groq-usage.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    await collect(result.chunks);
    expect(result.usage()).toEqual({
      inputTokens: 12,
      outputTokens: 3,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('turns parameters a preset does not support into warnings, and renames per preset', async () => {
    build('mistral');
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        seed: 3,
        user: 'u',
        logit_bias: { '1': 2 },
        max_completion_tokens: 9,
        made_up: true,
      },
      emptyContext,
    );
    expect(upstream.requests[0]?.body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      messages: [{ role: 'user', content: 'Hi' }],
      random_seed: 3,
      max_tokens: 9,
    });
    expect(result.warnings).toEqual([
      'parameter "made_up" is not supported and was ignored',
      'parameter "user" is not supported by mistral and was ignored',
      'parameter "logit_bias" is not supported by mistral and was ignored',
    ]);
  });

  it('does not send stream_options to providers that always send usage', async () => {
    build('mistral');
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    await collect(result.chunks);
    expect(upstream.requests[0]?.body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
  });

  it('maps upstream 401 to 502 upstream_auth_failed without echoing the key', async () => {
    upstream.enqueue({ kind: 'json', status: 401, body: readJsonFixture(fixture('error-401.json')) });
    const error = await gateway
      .chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(502);
    expect((error as GatewayError).code).toBe('upstream_auth_failed');
    expect(JSON.stringify((error as GatewayError).toOpenAIError())).not.toContain('sk-');
  });

  it('maps a context length error to 400 context_length_exceeded', async () => {
    upstream.enqueue({
      kind: 'json',
      status: 400,
      body: readJsonFixture(fixture('error-context-length.json')),
    });
    const error = (await gateway
      .chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.toOpenAIError().error.type).toBe('invalid_request_error');
  });

  it('maps 429 to a retryable 429 carrying Retry-After', async () => {
    upstream.enqueue({
      kind: 'json',
      status: 429,
      body: { error: { message: 'Rate limit reached' } },
      headers: { 'retry-after': '7' },
    });
    const error = (await gateway
      .chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(error.status).toBe(429);
    expect(error.isRetryable).toBe(true);
    expect(error.retryAfterMs).toBe(7000);
  });

  it('reports a stream cut before its final event', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('truncated.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const { items, error } = await collectSettled(result.chunks);
    expect(items.length).toBe(3);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(result.usage().outputTokens).toBeGreaterThan(0);
  });

  it('sends embeddings and converts the answer', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('embeddings.json')) });
    const result = await gateway.embeddings(
      { model: 'gpt-4o-mini', input: ['a', 'b'], dimensions: 3 },
      emptyContext,
    );
    expect(upstream.requests[0]?.path).toBe('/embeddings');
    expect(upstream.requests[0]?.body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      input: ['a', 'b'],
      dimensions: 3,
    });
    expect(result.response.data).toHaveLength(2);
    expect(result.response.model).toBe('gpt-4o-mini');
    expect(result.usage.inputTokens).toBe(8);
  });

  it.each([
    [[15_339, 1_917, 0], 3],
    [
      [
        [15_339, 1_917],
        [9_906, 11, 1_917, 0],
      ],
      6,
    ],
  ])('counts the token ids of embeddings input %j when the answer reports no usage', async (input, ids) => {
    const { usage: _reported, ...answer } = readJsonFixture(fixture('embeddings.json')) as Record<
      string,
      unknown
    >;
    upstream.enqueue({ kind: 'json', body: answer });
    const result = await gateway.embeddings({ model: 'gpt-4o-mini', input }, emptyContext);
    expect(upstream.requests[0]?.body).toMatchObject({ input });
    expect(result.usage.inputTokens).toBe(ids);
    expect(result.response.usage).toEqual({ prompt_tokens: ids, total_tokens: ids });
  });
});
