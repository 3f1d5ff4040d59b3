import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../gateway.js';
import { classifyMediaPart } from '../../provider-utils/media-part.js';
import type { GatewayError } from '../../spec/gateway-error.js';
import {
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  startFakeUpstream,
} from '../../testing/fake-upstream.js';
import { collect, collectSettled, emptyContext, fastResilience, parseConfig } from '../../testing/helpers.js';

const fixture = (name: string) => new URL(`./__fixtures__/${name}`, import.meta.url);

describe('cohere adapter', () => {
  let upstream: FakeUpstream;
  let gateway: Gateway;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    gateway = createGateway({
      config: parseConfig({
        providers: {
          cohere: {
            type: 'cohere',
            baseUrl: upstream.url,
            keys: ['co-test-key-123456789'],
            allowPrivateNetwork: true,
          },
        },
        models: {
          command: {
            provider: 'cohere',
            model: 'command-a-03-2025',
            contextWindow: 256_000,
            capabilities: ['chat', 'embeddings'],
          },
        },
        resilience: { ...fastResilience, retry: { ...fastResilience.retry, attempts: 1 } },
      }),
    });
  });
  afterEach(async () => {
    await upstream.close();
  });

  it('bounds one image by the default, Cohere documenting no most for large images, and takes images only', () => {
    const targets = gateway.resolve('command', emptyContext.metadata)!;
    expect(gateway.mediaTokenBound(classifyMediaPart('https://example.com/a.png'), targets)).toBe(48_169);
    expect(gateway.mediaTokenBound(classifyMediaPart('data:application/pdf;base64,JVBERi0='), targets)).toBe(
      48_169,
    );
  });

  it('sends the exact v2 chat body', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      {
        model: 'command',
        messages: [
          { role: 'developer', content: 'Be brief.' },
          { role: 'user', content: 'Weather in Toronto?' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"location":"Toronto"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '-5C' },
        ],
        temperature: 0.3,
        top_p: 0.75,
        max_completion_tokens: 300,
        stop: 'END',
        seed: 11,
        logprobs: true,
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather',
              parameters: { type: 'object', properties: { location: { type: 'string' } } },
            },
          },
          { type: 'function', function: { name: 'get_time' } },
        ],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
      },
      emptyContext,
    );
    const [request] = upstream.requests;
    expect(request?.path).toBe('/v2/chat');
    expect(request?.headers.authorization).toBe('Bearer co-test-key-123456789');
    expect(request?.body).toEqual({
      model: 'command-a-03-2025',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Toronto?' },
        {
          role: 'assistant',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location":"Toronto"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '-5C' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { location: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'REQUIRED',
      temperature: 0.3,
      p: 0.75,
      max_tokens: 300,
      stop_sequences: ['END'],
      seed: 11,
      response_format: { type: 'json_object', json_schema: { type: 'object' } },
    });
    expect(result.warnings).toEqual(['parameter "logprobs" is not supported by cohere and was ignored']);
  });

  it('converts a text answer with billed units as usage', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      { model: 'command', messages: [{ role: 'user', content: 'LLMs?' }] },
      emptyContext,
    );
    expect(result.response.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: 'LLMs are neural networks trained on large text corpora.' },
      finish_reason: 'stop',
    });
    expect(result.usage).toEqual({
      inputTokens: 17,
      outputTokens: 12,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('converts tool calls, keeping the tool plan as reasoning', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('tool-call.json')) });
    const result = await gateway.chat(
      { model: 'command', messages: [{ role: 'user', content: 'Toronto?' }] },
      emptyContext,
    );
    const choice = result.response.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.reasoning_content).toBe('I will look up the weather in Toronto.');
    expect(choice.message.tool_calls).toEqual([
      {
        id: 'get_weather_1byjy32y4hvq',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"Toronto"}' },
      },
    ]);
  });

  it('streams text events', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'command', messages: [{ role: 'user', content: 'Coke?' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    expect((upstream.requests[0]!.body as { stream: boolean }).stream).toBe(true);
    expect(chunks[0]?.id).toBe('a8fc192e-4bb8-4e15-ae1f-a174e8b02ae8');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(
      'Coca-Cola is a soft drink.',
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(result.usage()).toEqual({
      inputTokens: 12,
      outputTokens: 8,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('streams tool plans and tool-call deltas', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('tool-call.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'command', messages: [{ role: 'user', content: 'Madrid?' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.reasoning_content ?? '').join('')).toBe(
      'I will search the weather.',
    );
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'get_weather_nsz5zm3w56q3',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    const joined = new Map<number, string>();
    for (const delta of deltas)
      joined.set(delta.index, (joined.get(delta.index) ?? '') + (delta.function?.arguments ?? ''));
    expect(JSON.parse(joined.get(0)!)).toEqual({ location: 'Madrid' });
    expect(JSON.parse(joined.get(1)!)).toEqual({ location: 'Oran' });
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
      'tool_calls',
    );
  });

  it('treats a stream without message-end as interrupted', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('truncated.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'command', messages: [{ role: 'user', content: 'Coke?' }], stream: true },
      emptyContext,
    );
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(result.usage().outputTokens).toBe(7);
  });

  it('maps errors', async () => {
    upstream.enqueue({
      kind: 'json',
      status: 429,
      body: { id: 'x', message: 'You are using a Trial key, which is limited to 10 API calls / minute.' },
    });
    const limited = (await gateway
      .chat({ model: 'command', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(limited.status).toBe(429);
    upstream.enqueue({
      kind: 'json',
      status: 400,
      body: {
        id: 'y',
        message: 'too many tokens: total number of tokens in the prompt cannot exceed 256000',
      },
    });
    const tooLong = (await gateway
      .chat({ model: 'command', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(tooLong.code).toBe('context_length_exceeded');
  });

  it('embeds through /v2/embed', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('embed.json')) });
    const result = await gateway.embeddings({ model: 'command', input: ['hello', 'goodbye'] }, emptyContext);
    expect(upstream.requests[0]?.path).toBe('/v2/embed');
    expect(upstream.requests[0]?.body).toEqual({
      model: 'command-a-03-2025',
      texts: ['hello', 'goodbye'],
      input_type: 'search_document',
      embedding_types: ['float'],
    });
    expect(result.response.data[1]?.embedding).toEqual([0.0234, 0.0012, -0.0333]);
    expect(result.usage.inputTokens).toBe(2);
  });
});
