import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../gateway.js';
import { classifyMediaPart } from '../../provider-utils/media-part.js';
import type { GatewayError } from '../../spec/gateway-error.js';
import { estimateTokens } from '../../spec/usage.js';
import {
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  startFakeUpstream,
} from '../../testing/fake-upstream.js';
import { collect, collectSettled, emptyContext, fastResilience, parseConfig } from '../../testing/helpers.js';
import { makePdf } from '../../testing/pdf.js';

const fixture = (name: string) => new URL(`./__fixtures__/${name}`, import.meta.url);
const geminiKey = 'AIzaSyTestKey0123456789abcdefghijk';

describe('gemini adapter', () => {
  let upstream: FakeUpstream;
  let gateway: Gateway;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    gateway = createGateway({
      config: parseConfig({
        providers: {
          google: { type: 'gemini', baseUrl: upstream.url, keys: [geminiKey], allowPrivateNetwork: true },
        },
        models: {
          flash: {
            provider: 'google',
            model: 'gemini-2.5-flash',
            contextWindow: 1_048_576,
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

  it('sends the exact generateContent body', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      {
        model: 'flash',
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Set it to 21' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'set_temperature', arguments: '{"celsius":21}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"ok":true}' },
        ],
        temperature: 0.4,
        top_p: 0.8,
        max_tokens: 256,
        stop: ['END'],
        seed: 5,
        user: 'someone',
        tools: [
          {
            type: 'function',
            function: {
              name: 'set_temperature',
              description: 'Sets the thermostat',
              parameters: {
                $schema: 'http://json-schema.org/draft-07/schema#',
                type: 'object',
                properties: { celsius: { type: 'number' }, room: { type: ['string', 'null'] } },
                required: ['celsius'],
                additionalProperties: false,
              },
            },
          },
          { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
        ],
        tool_choice: { type: 'function', function: { name: 'set_temperature' } },
        response_format: { type: 'json_object' },
      },
      emptyContext,
    );
    const [request] = upstream.requests;
    expect(request?.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(request?.headers['x-goog-api-key']).toBe(geminiKey);
    expect(request?.body).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [
        {
          role: 'user',
          parts: [{ text: 'Set it to 21' }, { inlineData: { mimeType: 'image/png', data: 'iVBOR' } }],
        },
        { role: 'model', parts: [{ functionCall: { name: 'set_temperature', args: { celsius: 21 } } }] },
        {
          role: 'user',
          parts: [
            {
              functionResponse: {
                name: 'set_temperature',
                response: { name: 'set_temperature', content: { ok: true } },
              },
            },
          ],
        },
      ],
      tools: [
        {
          functionDeclarations: [
            {
              name: 'set_temperature',
              description: 'Sets the thermostat',
              parameters: {
                type: 'object',
                properties: { celsius: { type: 'number' }, room: { type: 'string', nullable: true } },
                required: ['celsius'],
              },
            },
            { name: 'ping' },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['set_temperature'] } },
      generationConfig: {
        temperature: 0.4,
        topP: 0.8,
        maxOutputTokens: 256,
        stopSequences: ['END'],
        seed: 5,
        responseMimeType: 'application/json',
      },
    });
    expect(result.warnings).toEqual(['parameter "user" is not supported by gemini and was ignored']);
  });

  it('converts text with thoughts counted as output and reasoning', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      { model: 'flash', messages: [{ role: 'user', content: 'Explain AI' }] },
      emptyContext,
    );
    expect(result.response.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: 'AI learns patterns from data to make predictions.' },
      finish_reason: 'stop',
    });
    expect(result.response.id).toBe('chatcmpl-mKfsaK2mBsbKz7IPxqCs6Qk');
    expect(result.usage).toEqual({
      inputTokens: 8,
      outputTokens: 229,
      cachedInputTokens: 0,
      reasoningTokens: 220,
    });
  });

  it('estimates the usage of an answer without usageMetadata instead of billing it as nothing', async () => {
    const answer = 'A long answer. '.repeat(200);
    const prompt = 'Write a lot. '.repeat(100);
    upstream.enqueue({
      kind: 'json',
      body: { candidates: [{ content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP' }] },
    });
    const result = await gateway.chat(
      { model: 'flash', messages: [{ role: 'user', content: prompt }] },
      emptyContext,
    );
    expect(result.response.choices[0]?.message.content).toHaveLength(3_000);
    // About four characters a token, as for a stream whose usage never came.
    expect(result.usage).toEqual({
      inputTokens: estimateTokens(prompt),
      outputTokens: 750,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
    expect(result.response.usage).toMatchObject({
      prompt_tokens: 325,
      completion_tokens: 750,
      total_tokens: 1_075,
    });
  });

  it('converts function calls, thoughts and cached tokens', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('function-call.json')) });
    const result = await gateway.chat(
      { model: 'flash', messages: [{ role: 'user', content: 'Warm up' }] },
      emptyContext,
    );
    const choice = result.response.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.reasoning_content).toBe('Checking the thermostat.');
    expect(choice.message.tool_calls?.[0]?.function).toEqual({
      name: 'set_temperature',
      arguments: '{"room":"living","celsius":21}',
    });
    expect(choice.message.tool_calls?.[0]?.id).toMatch(/^call_/);
    expect(result.usage).toEqual({
      inputTokens: 120,
      outputTokens: 18,
      cachedInputTokens: 100,
      reasoningTokens: 0,
    });
  });

  it('reports a blocked prompt as content_filter', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('blocked.json')) });
    const result = await gateway.chat(
      { model: 'flash', messages: [{ role: 'user', content: 'bad' }] },
      emptyContext,
    );
    expect(result.response.choices[0]?.finish_reason).toBe('content_filter');
    expect(result.usage.inputTokens).toBe(7);
  });

  it('streams text over streamGenerateContent?alt=sse with final usage', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'flash', messages: [{ role: 'user', content: 'Why is the sky blue?' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    expect(upstream.requests[0]?.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(
      'The sky is blue because of Rayleigh scattering.',
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(result.usage()).toEqual({
      inputTokens: 10,
      outputTokens: 51,
      cachedInputTokens: 4,
      reasoningTokens: 40,
    });
  });

  it('streams function calls as whole tool-call deltas', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('function-call.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'flash', messages: [{ role: 'user', content: 'Cosy' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(deltas.map((delta) => [delta.index, delta.function])).toEqual([
      [0, { name: 'set_temperature', arguments: '{"room":"living","celsius":21}' }],
      [1, { name: 'set_light', arguments: '{"on":true}' }],
    ]);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.reasoning_content ?? '').join('')).toBe(
      'Let me think about rooms.',
    );
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
      'tool_calls',
    );
    expect(result.usage()).toEqual({
      inputTokens: 50,
      outputTokens: 45,
      cachedInputTokens: 0,
      reasoningTokens: 20,
    });
  });

  it('streams every candidate of candidateCount as its own choice, and bills them all', async () => {
    // streamGenerateContent sends each chunk's candidates by their index (proto3 JSON leaves index 0 out, as Google's
    // SDKs read it), candidates finishing in different chunks; candidatesTokenCount counts all of them.
    const request = {
      model: 'flash',
      messages: [{ role: 'user' as const, content: 'A poem, twice' }],
      n: 2,
      stream: true,
    };
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('candidates.chunks.txt')) });
    const result = await gateway.chatStream(request, emptyContext);
    const chunks = await collect(result.chunks);
    expect((upstream.requests[0]!.body as { generationConfig: unknown }).generationConfig).toEqual({
      candidateCount: 2,
    });
    const choices = chunks.flatMap((chunk) => chunk.choices);
    const text = (index: number) =>
      choices
        .filter((choice) => choice.index === index)
        .map((choice) => choice.delta.content ?? '')
        .join('');
    expect(text(0)).toBe('Roses are red.');
    expect(text(1)).toBe('Violets are blue, and so are you.');
    expect(
      choices.filter((choice) => choice.delta.role === 'assistant').map((choice) => choice.index),
    ).toEqual([0, 1]);
    expect(
      choices.filter((choice) => choice.finish_reason).map((choice) => [choice.index, choice.finish_reason]),
    ).toEqual([
      [0, 'stop'],
      [1, 'length'],
    ]);
    expect(result.usage()).toEqual({
      inputTokens: 6,
      outputTokens: 13,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });

    // Without usageMetadata the estimate covers what every candidate delivered, not the first alone.
    const withoutUsage = readChunksFixture(fixture('candidates.chunks.txt')).map((event) => {
      const { usageMetadata: _usage, ...rest } = JSON.parse(event.data) as Record<string, unknown>;
      return { data: JSON.stringify(rest) };
    });
    upstream.enqueue({ kind: 'sse', events: withoutUsage });
    const estimated = await gateway.chatStream(request, emptyContext);
    await collect(estimated.chunks);
    // About four characters a token: 14 + 33 characters.
    expect(estimated.usage().outputTokens).toBe(Math.ceil((14 + 33) / 4));
  });

  it('treats a stream whose second candidate never finishes as interrupted', async () => {
    const events = readChunksFixture(fixture('candidates.chunks.txt')).slice(0, 2);
    upstream.enqueue({ kind: 'sse', events });
    const result = await gateway.chatStream(
      { model: 'flash', messages: [{ role: 'user', content: 'A poem, twice' }], n: 2, stream: true },
      emptyContext,
    );
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
  });

  it('treats a stream without a finishReason as interrupted', async () => {
    upstream.enqueue({ kind: 'sse', events: readChunksFixture(fixture('truncated.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'flash', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(result.usage().inputTokens).toBe(10);
  });

  it('maps an invalid key (a 400 for Gemini) to upstream_auth_failed and a token limit to context_length_exceeded', async () => {
    upstream.enqueue({ kind: 'json', status: 400, body: readJsonFixture(fixture('error-api-key.json')) });
    const auth = (await gateway
      .chat({ model: 'flash', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(auth.code).toBe('upstream_auth_failed');
    expect(auth.status).toBe(502);
    upstream.enqueue({ kind: 'json', status: 400, body: readJsonFixture(fixture('error-token-limit.json')) });
    const tooLong = (await gateway
      .chat({ model: 'flash', messages: [{ role: 'user', content: 'Hi' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(tooLong.code).toBe('context_length_exceeded');
  });

  it('bounds each image_url part by what Gemini bills for what it carries, up to the lengths it documents', () => {
    const targets = gateway.resolve('flash', emptyContext.metadata)!;
    const bound = (url: string) => gateway.mediaTokenBound(classifyMediaPart(url), targets);
    // An image: the default, Gemini documenting no most.
    expect(bound('data:image/png;base64,iVBORw0KGgo=')).toBe(48_169);
    expect(bound('https://example.com/a.png')).toBe(48_169);
    // A PDF, inline or a `.pdf` link: 1,000 pages of 560 tokens.
    expect(bound('data:application/pdf;base64,JVBERi0xLjQK')).toBe(560_000);
    expect(bound('https://example.com/report.pdf?v=2')).toBe(560_000);
    // Audio: 9.5 hours of 32 tokens a second; video: 2 hours of about 300 a second.
    expect(bound('data:audio/mp3;base64,SUQz')).toBe(1_094_400);
    expect(bound('data:video/mp4;base64,AAAAIGZ0eXA=')).toBe(2_160_000);
    // Text is billed as text: at most a token a byte of what the base64 decodes to.
    expect(bound(`data:text/plain;base64,${Buffer.from('a'.repeat(300_000)).toString('base64')}`)).toBe(
      300_000,
    );
    // Media held by reference (an uploaded file, a YouTube video) and an unknown media type: the largest.
    expect(bound('https://generativelanguage.googleapis.com/v1beta/files/abc')).toBe(2_160_000);
    expect(bound('https://www.youtube.com/watch?v=abc')).toBe(2_160_000);
    // An image service's link without an extension goes as image/jpeg: an image.
    expect(bound('https://images.example.com/photo?id=42')).toBe(48_169);
    expect(bound('data:application/octet-stream;base64,AAAA')).toBe(2_160_000);
  });

  it('bounds an inline PDF whose pages a hold counted at 560 tokens a page, up to the 1,000 Gemini takes', async () => {
    const targets = gateway.resolve('flash', emptyContext.metadata)!;
    const counted = (url: string) =>
      gateway.mediaTokenBound(classifyMediaPart(url, { countPages: true }), targets);
    const inline = (pdf: Buffer) => `data:application/pdf;base64,${pdf.toString('base64')}`;
    expect(counted(inline(await makePdf(2)))).toBe(2 * 560);
    const claimed = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Pages /Kids [2 0 R] /Count 5000 >> endobj\n');
    expect(counted(inline(claimed))).toBe(560_000);
    expect(counted(inline(await makePdf(1, { userPassword: 'made-up-at-test-time' })))).toBe(560_000);
  });

  it('bounds the output it may be billed for by maxOutputTokens times candidateCount, thoughts included', async () => {
    const request = {
      model: 'flash',
      messages: [{ role: 'user' as const, content: 'Hi' }],
      max_tokens: 10,
      n: 3,
      reasoning_effort: 'high',
    };
    expect(gateway.outputTokenBound(request, gateway.resolve('flash', emptyContext.metadata)!)).toBe(30);
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(request, emptyContext);
    expect((upstream.requests[0]!.body as { generationConfig: unknown }).generationConfig).toMatchObject({
      maxOutputTokens: 10,
      candidateCount: 3,
    });
  });

  it('maps json_schema to responseSchema and reasoning_effort to a thinking budget', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(
      {
        model: 'flash',
        messages: [{ role: 'user', content: 'Person' }],
        reasoning_effort: 'low',
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'person',
            schema: {
              type: 'object',
              properties: { kind: { const: 'person' } },
              additionalProperties: false,
            },
          },
        },
      },
      emptyContext,
    );
    expect((upstream.requests[0]!.body as { generationConfig: unknown }).generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: { type: 'object', properties: { kind: { enum: ['person'], type: 'string' } } },
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });
  });

  it('embeds through batchEmbedContents', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('embeddings.json')) });
    const result = await gateway.embeddings(
      { model: 'flash', input: ['hello world', 'bye'], dimensions: 3 },
      emptyContext,
    );
    expect(upstream.requests[0]?.path).toBe('/v1beta/models/gemini-2.5-flash:batchEmbedContents');
    expect(upstream.requests[0]?.body).toEqual({
      requests: [
        {
          model: 'models/gemini-2.5-flash',
          content: { parts: [{ text: 'hello world' }] },
          outputDimensionality: 3,
        },
        { model: 'models/gemini-2.5-flash', content: { parts: [{ text: 'bye' }] }, outputDimensionality: 3 },
      ],
    });
    expect(result.response.data.map((item) => item.index)).toEqual([0, 1]);
    expect(result.usage.inputTokens).toBe(4);
  });
});
