import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../gateway.js';
import { classifyMediaPart } from '../../provider-utils/media-part.js';
import type { GatewayError } from '../../spec/gateway-error.js';
import {
  type FakeUpstream,
  readJsonFixture,
  readNamedChunksFixture,
  startFakeUpstream,
} from '../../testing/fake-upstream.js';
import { collect, collectSettled, emptyContext, fastResilience, parseConfig } from '../../testing/helpers.js';
import { makePdf } from '../../testing/pdf.js';

const fixture = (name: string) => new URL(`./__fixtures__/${name}`, import.meta.url);

describe('anthropic adapter', () => {
  let upstream: FakeUpstream;
  let gateway: Gateway;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    gateway = createGateway({
      config: parseConfig({
        providers: {
          claude: {
            type: 'anthropic',
            baseUrl: upstream.url,
            keys: ['sk-ant-api03-secret-key'],
            allowPrivateNetwork: true,
          },
        },
        models: {
          sonnet: {
            provider: 'claude',
            model: 'claude-sonnet-4-20250514',
            contextWindow: 200_000,
            maxOutputTokens: 8192,
          },
        },
        resilience: { ...fastResilience, retry: { ...fastResilience.retry, attempts: 1 } },
      }),
    });
  });
  afterEach(async () => {
    await upstream.close();
  });

  it('sends the exact Messages body, path and headers', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      {
        model: 'sonnet',
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this image, and the weather?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'toolu_2',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Oran"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
          { role: 'tool', tool_call_id: 'toolu_2', content: '25C' },
        ],
        temperature: 0.5,
        top_p: 0.9,
        stop: 'END',
        user: 'user-42',
        seed: 1,
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
        ],
        tool_choice: 'required',
        parallel_tool_calls: false,
      },
      emptyContext,
    );
    const [request] = upstream.requests;
    expect(request?.path).toBe('/v1/messages');
    expect(request?.headers['x-api-key']).toBe('sk-ant-api03-secret-key');
    expect(request?.headers['anthropic-version']).toBe('2023-06-01');
    expect(request?.headers.authorization).toBeUndefined();
    expect(request?.body).toEqual({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 8192,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image, and the weather?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Oran' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: '25C' },
          ],
        },
      ],
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ['END'],
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'user-42' },
    });
    expect(result.warnings).toEqual(['parameter "seed" is not supported by anthropic and was ignored']);
  });

  it('converts a text answer with cache reads counted as input', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100 },
      emptyContext,
    );
    expect((upstream.requests[0]!.body as { max_tokens: number }).max_tokens).toBe(100);
    expect(result.response).toMatchObject({
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      object: 'chat.completion',
      model: 'sonnet',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi! My name is Claude.' },
          finish_reason: 'stop',
        },
      ],
    });
    expect(result.usage).toEqual({
      inputTokens: 3895,
      outputTokens: 503,
      cachedInputTokens: 1800,
      reasoningTokens: 0,
    });
  });

  it('converts tool use and thinking', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('tool-use.json')) });
    const result = await gateway.chat(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Weather?' }] },
      emptyContext,
    );
    const choice = result.response.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe("I'll check the weather.");
    expect(choice.message.reasoning_content).toBe('The user wants the weather; I should call the tool.');
    expect(choice.message.tool_calls).toEqual([
      {
        id: 'toolu_01A09q90qw90lq917835lq9',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
      },
    ]);
    expect(result.usage).toEqual({
      inputTokens: 572,
      outputTokens: 91,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('gets JSON through a forced tool when response_format asks for it', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('json-tool.json')) });
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'number' } },
      required: ['name', 'age'],
    };
    const result = await gateway.chat(
      {
        model: 'sonnet',
        messages: [{ role: 'user', content: 'Ada, 36' }],
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema } },
      },
      emptyContext,
    );
    const body = upstream.requests[0]?.body as Record<string, unknown>;
    expect(body.tools).toEqual([
      { name: 'json', description: 'Respond with a JSON object.', input_schema: schema },
    ]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'json' });
    expect(result.response.choices[0]?.message.content).toBe('{"name":"Ada","age":36}');
    expect(result.response.choices[0]?.finish_reason).toBe('stop');
  });

  it('maps reasoning_effort to a thinking budget on top of max_tokens', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    const result = await gateway.chat(
      {
        model: 'sonnet',
        messages: [{ role: 'user', content: 'Think' }],
        max_tokens: 1000,
        reasoning_effort: 'low',
        temperature: 0.3,
      },
      emptyContext,
    );
    const body = upstream.requests[0]?.body as Record<string, unknown>;
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(body.max_tokens).toBe(2024);
    expect(body.temperature).toBeUndefined();
    expect(result.warnings).toEqual([
      'parameter "temperature" is not supported by anthropic and was ignored (not with thinking)',
    ]);
  });

  it('sends a PDF as a document block, inline or by URL, and an image of a type it takes as an image block', async () => {
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(
      {
        model: 'sonnet',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare the report with the slides and the chart.' },
              { type: 'image_url', image_url: { url: 'data:application/pdf;base64,JVBERi0xLjQK' } },
              { type: 'image_url', image_url: { url: 'https://example.com/slides.pdf?version=2' } },
              { type: 'image_url', image_url: { url: 'data:IMAGE/PNG;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://cdn.example.com/chart' } },
            ],
          },
        ],
      },
      emptyContext,
    );
    // The shapes of Anthropic's "PDF support" guide (base64 and URL documents) and "Images and vision" guide.
    expect((upstream.requests[0]!.body as { messages: unknown[] }).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare the report with the slides and the chart.' },
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' },
          },
          { type: 'document', source: { type: 'url', url: 'https://example.com/slides.pdf?version=2' } },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://cdn.example.com/chart' } },
        ],
      },
    ]);
  });

  it('refuses audio, video and types its blocks do not take with a 400, before calling Anthropic', async () => {
    for (const [url, mediaType] of [
      ['data:audio/wav;base64,UklGRg==', 'audio/wav'],
      ['data:video/mp4;base64,AAAAIGZ0eXA=', 'video/mp4'],
      ['data:text/csv;base64,YSxiCg==', 'text/csv'],
      ['data:image/heic;base64,AAAAGGZ0eXA=', 'image/heic'],
      ['https://example.com/photo.heic', 'image/heic'],
    ] as const) {
      const error = (await gateway
        .chat(
          {
            model: 'sonnet',
            messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
          },
          emptyContext,
        )
        .catch((caught: unknown) => caught)) as GatewayError;
      expect(error.toOpenAIError()).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'invalid_request',
          message: `Claude takes images (JPEG, PNG, GIF or WebP) and PDFs in image_url parts, not ${mediaType}`,
          param: 'messages',
        },
      });
      expect(error.status).toBe(400);
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('bounds an image at 4,800 tokens, a PDF by its pages of text and image, and what it refuses at nothing', () => {
    const targets = gateway.resolve('sonnet', emptyContext.metadata)!;
    const bound = (url: string) => gateway.mediaTokenBound(classifyMediaPart(url), targets);
    // 4,784 visual tokens at most (2,576 px on the long edge), held as 4,800.
    expect(bound('https://example.com/a.png')).toBe(4_800);
    expect(bound('data:image/webp;base64,UklGRg==')).toBe(4_800);
    // A link of no known type goes as an image block: Anthropic bills it as one or refuses it.
    expect(bound('https://www.youtube.com/watch?v=abc')).toBe(4_800);
    // Up to 600 pages, each about 3,000 tokens of text and an image: past any Claude context window.
    expect(bound('data:application/pdf;base64,JVBERi0=')).toBe(600 * (3_000 + 4_800));
    expect(bound('https://example.com/report.pdf')).toBe(4_680_000);
    expect(bound('data:video/mp4;base64,AAAA')).toBe(0);
    expect(bound('data:audio/ogg;base64,T2dnUw==')).toBe(0);
  });

  it('bounds an inline PDF whose pages a hold counted at 7,800 tokens a page, up to the 600 Anthropic takes', async () => {
    const targets = gateway.resolve('sonnet', emptyContext.metadata)!;
    const counted = (url: string) =>
      gateway.mediaTokenBound(classifyMediaPart(url, { countPages: true }), targets);
    const inline = (pdf: Buffer) => `data:application/pdf;base64,${pdf.toString('base64')}`;
    expect(counted(inline(await makePdf(1)))).toBe(3_000 + 4_800);
    expect(counted(inline(await makePdf(3)))).toBe(3 * (3_000 + 4_800));
    // A tree claiming more pages than Anthropic takes, and pages that cannot be counted (encrypted, a link): 600.
    const claimed = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Pages /Kids [2 0 R] /Count 5000 >> endobj\n');
    expect(counted(inline(claimed))).toBe(4_680_000);
    expect(counted(inline(await makePdf(1, { userPassword: 'made-up-at-test-time' })))).toBe(4_680_000);
    expect(counted('https://example.com/report.pdf')).toBe(4_680_000);
  });

  it('bounds the output it may be billed for by the max_tokens it sends, thinking budget included', async () => {
    const request = {
      model: 'sonnet',
      messages: [{ role: 'user' as const, content: 'Think' }],
      max_tokens: 10,
      reasoning_effort: 'high',
      n: 4,
    };
    const targets = gateway.resolve('sonnet', emptyContext.metadata)!;
    // 10 for the answer and 16,384 for thinking; `n` is not sent to Anthropic, so one choice.
    expect(gateway.outputTokenBound(request, targets)).toBe(16_394);
    upstream.enqueue({ kind: 'json', body: readJsonFixture(fixture('text.json')) });
    await gateway.chat(request, emptyContext);
    expect((upstream.requests[0]!.body as { max_tokens: number }).max_tokens).toBe(16_394);
    // Without a cap, the model's maximum is sent, and bounded.
    const { max_tokens: _cap, reasoning_effort: _effort, ...uncapped } = request;
    expect(gateway.outputTokenBound(uncapped, targets)).toBe(8192);
  });

  it('streams text with usage', async () => {
    upstream.enqueue({ kind: 'sse', events: readNamedChunksFixture(fixture('text.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    expect((upstream.requests[0]!.body as Record<string, unknown>).stream).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
    expect(chunks.every((chunk) => chunk.id === 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY')).toBe(true);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.usage).toMatchObject({
      prompt_tokens: 1025,
      completion_tokens: 15,
      prompt_tokens_details: { cached_tokens: 1000 },
    });
    expect(result.usage()).toEqual({
      inputTokens: 1025,
      outputTokens: 15,
      cachedInputTokens: 1000,
      reasoningTokens: 0,
    });
  });

  it('streams thinking and tool-call deltas', async () => {
    upstream.enqueue({ kind: 'sse', events: readNamedChunksFixture(fixture('tool-use.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Weather?' }], stream: true },
      emptyContext,
    );
    const chunks = await collect(result.chunks);
    const deltas = chunks.map((chunk) => chunk.choices[0]?.delta);
    expect(deltas.map((delta) => delta?.reasoning_content ?? '').join('')).toBe('Need the weather tool.');
    const toolDeltas = deltas.flatMap((delta) => delta?.tool_calls ?? []);
    expect(toolDeltas).toEqual([
      {
        index: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
      { index: 0, function: { arguments: '{"location":' } },
      { index: 0, function: { arguments: ' "San Francisco, CA"}' } },
    ]);
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
      'tool_calls',
    );
    expect(result.usage()).toEqual({
      inputTokens: 472,
      outputTokens: 89,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('throws stream_interrupted when message_stop never comes', async () => {
    upstream.enqueue({ kind: 'sse', events: readNamedChunksFixture(fixture('truncated.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const { items, error } = await collectSettled(result.chunks);
    expect(items.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect(result.usage().inputTokens).toBe(1025);
    expect(result.usage().outputTokens).toBeGreaterThanOrEqual(1);
  });

  it('throws stream_interrupted on an error event mid-stream', async () => {
    upstream.enqueue({ kind: 'sse', events: readNamedChunksFixture(fixture('overloaded.chunks.txt')) });
    const result = await gateway.chatStream(
      { model: 'sonnet', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      emptyContext,
    );
    const { error } = await collectSettled(result.chunks);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect((error as GatewayError).message).toContain('upstream_unavailable');
  });

  it('maps "prompt is too long" to context_length_exceeded and 529 to a retryable 503', async () => {
    upstream.enqueue({ kind: 'json', status: 400, body: readJsonFixture(fixture('error-400.json')) });
    const tooLong = (await gateway
      .chat({ model: 'sonnet', messages: [{ role: 'user', content: 'x' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(tooLong.code).toBe('context_length_exceeded');
    upstream.enqueue({
      kind: 'json',
      status: 529,
      body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    const overloaded = (await gateway
      .chat({ model: 'sonnet', messages: [{ role: 'user', content: 'x' }] }, emptyContext)
      .catch((caught: unknown) => caught)) as GatewayError;
    expect(overloaded.status).toBe(503);
    expect(overloaded.isRetryable).toBe(true);
  });
});
