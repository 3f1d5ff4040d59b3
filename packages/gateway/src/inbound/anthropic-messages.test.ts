import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { classifyMediaPart } from '../provider-utils/media-part.js';
import { anthropicMessagesRequestSchema } from '../schemas/anthropic-messages-request.js';
import { GatewayError } from '../spec/gateway-error.js';
import type { ChatCompletion, ChatCompletionChunk } from '../spec/openai-types.js';
import {
  anthropicRequestToChat,
  chatResultToAnthropic,
  createAnthropicStreamEncoder,
  formatAnthropicEvent,
} from './anthropic-messages.js';

const chunk = (
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
): ChatCompletionChunk => ({
  id: 'chatcmpl-abc',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'smart',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

const toolStream: ChatCompletionChunk[] = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Let me check' }),
  chunk({ content: '.' }),
  chunk({
    tool_calls: [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
    ],
  }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oran"}' } }] }),
  chunk({
    tool_calls: [
      { index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ],
  }),
  chunk({}, 'tool_calls'),
];

describe('anthropic inbound', () => {
  it('turns an Anthropic request into a chat request', () => {
    const parsed = anthropicMessagesRequestSchema.parse({
      model: 'smart',
      max_tokens: 512,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in Oran?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oran' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '25C' }] },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
      temperature: 0.3,
      stop_sequences: ['###'],
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'u-1' },
      top_k: 5,
      service_tier: 'auto',
    });
    const { request, warnings } = anthropicRequestToChat(parsed);
    expect(request).toEqual({
      model: 'smart',
      max_tokens: 512,
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in Oran?' },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oran"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '25C' },
        { role: 'user', content: 'And tomorrow?' },
      ],
      temperature: 0.3,
      stop: ['###'],
      user: 'u-1',
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
    });
    expect(warnings).toEqual([
      'parameter "service_tier" is not supported and was ignored',
      'parameter "top_k" is not supported and was ignored',
    ]);
  });

  it('turns document blocks into the parts the engine routes: a PDF as a PDF part, text as text', () => {
    const pdf = { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' };
    const parsed = anthropicMessagesRequestSchema.parse({
      model: 'smart',
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'document',
              source: pdf,
              title: 'Q3 report',
              context: 'Filed in October',
              citations: null,
            },
            {
              type: 'document',
              source: { type: 'url', url: 'https://example.com/paper.pdf' },
              citations: { enabled: false },
              cache_control: { type: 'ephemeral' },
            },
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' },
            },
            {
              type: 'document',
              source: {
                type: 'content',
                content: [
                  { type: 'text', text: 'Chapter 1.' },
                  { type: 'image', source: { type: 'url', url: 'https://example.com/figure.png' } },
                ],
              },
              title: 'Book',
            },
            { type: 'text', text: 'Summarise these.' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'fetch_report', input: {} }],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [
                { type: 'text', text: 'Found it: ' },
                { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Revenue up.' } },
                { type: 'document', source: pdf },
              ],
            },
          ],
        },
      ],
    });
    const { request, warnings } = anthropicRequestToChat(parsed);
    const pdfPart = { type: 'image_url', image_url: { url: 'data:application/pdf;base64,JVBERi0xLjQK' } };
    expect(request.messages).toEqual([
      {
        role: 'user',
        content: [
          pdfPart,
          { type: 'image_url', image_url: { url: 'https://example.com/paper.pdf' } },
          { type: 'text', text: 'The sky is blue.' },
          { type: 'text', text: 'Chapter 1.' },
          { type: 'image_url', image_url: { url: 'https://example.com/figure.png' } },
          { type: 'text', text: 'Summarise these.' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'fetch_report', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Found it: Revenue up.' },
      { role: 'user', content: [pdfPart] },
    ]);
    // Holds and adapters read both PDF parts as PDFs.
    expect(classifyMediaPart(pdfPart.image_url.url)).toMatchObject({ kind: 'document', inline: true });
    expect(classifyMediaPart('https://example.com/paper.pdf')).toMatchObject({ kind: 'document' });
    expect(warnings).toEqual([
      'document "title" is not supported and was ignored',
      'document "context" is not supported and was ignored',
    ]);
  });

  it('takes cache_control: null wherever the Anthropic SDK allows it, as no cache hint', () => {
    const parsed = anthropicMessagesRequestSchema.parse({
      model: 'smart',
      max_tokens: 64,
      system: [{ type: 'text', text: 'You are terse.', cache_control: null }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object' }, cache_control: null }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Oran?', cache_control: null }] },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {}, cache_control: null }],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny', cache_control: null }],
        },
      ],
    });
    const { request } = anthropicRequestToChat(parsed);
    expect(request.messages.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(JSON.stringify(request)).not.toContain('cache_control');
  });

  it('refuses document blocks it cannot pass on faithfully, naming the block', () => {
    const convert = (document: Record<string, unknown>) =>
      anthropicRequestToChat(
        anthropicMessagesRequestSchema.parse({
          model: 'smart',
          max_tokens: 64,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'Read this.' }, document] }],
        }),
      );
    const pdf = { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' };
    let error: unknown;
    try {
      convert({ type: 'document', source: pdf, citations: { enabled: true } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      param: 'messages.0.content.1.citations',
      message: expect.stringContaining('Citations are not supported'),
    });
    // A link that names no PDF would be held and sent as an image.
    expect(() =>
      convert({ type: 'document', source: { type: 'url', url: 'https://arxiv.org/pdf/2401.00001' } }),
    ).toThrow(expect.objectContaining({ status: 400, param: 'messages.0.content.1.source.url' }));
    // Sources Anthropic documents with other media types, or that name files held by Anthropic, fail validation.
    for (const source of [
      { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
      { type: 'file', file_id: 'file_011' },
    ]) {
      expect(() => convert({ type: 'document', source })).toThrow();
    }
  });

  it('turns a chat result into an Anthropic message', () => {
    const response: ChatCompletion = {
      id: 'chatcmpl-xyz',
      object: 'chat.completion',
      created: 1,
      model: 'smart',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Calling.',
            tool_calls: [
              { id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    expect(
      chatResultToAnthropic(response, {
        inputTokens: 100,
        outputTokens: 20,
        cachedInputTokens: 60,
        reasoningTokens: 0,
      }),
    ).toEqual({
      id: 'msg_xyz',
      type: 'message',
      role: 'assistant',
      model: 'smart',
      content: [
        { type: 'text', text: 'Calling.' },
        { type: 'tool_use', id: 'call_9', name: 'lookup', input: { q: 'x' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 40,
        output_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 60,
      },
    });
  });

  it('emits named events in order, with input_json_delta for tools', () => {
    const encoder = createAnthropicStreamEncoder({ model: 'smart', inputTokens: 12 });
    const events = [
      ...toolStream.flatMap((item) => encoder.push(item)),
      ...encoder.finish({ inputTokens: 12, outputTokens: 30, cachedInputTokens: 0, reasoningTokens: 0 }),
    ];
    expect(events.map((event) => [event.event, (event.data.index as number | undefined) ?? null])).toEqual([
      ['message_start', null],
      ['content_block_start', 0],
      ['content_block_delta', 0],
      ['content_block_delta', 0],
      ['content_block_stop', 0],
      ['content_block_start', 1],
      ['content_block_delta', 1],
      ['content_block_delta', 1],
      ['content_block_stop', 1],
      ['content_block_start', 2],
      ['content_block_delta', 2],
      ['content_block_stop', 2],
      ['message_delta', null],
      ['message_stop', null],
    ]);
    expect(events[6]?.data).toEqual({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"city":' },
    });
    expect(events[12]?.data).toMatchObject({
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 30 },
    });
    expect(formatAnthropicEvent(events[13]!)).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });

  it('produces a stream the official Anthropic SDK assembles into the same message', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const encoder = createAnthropicStreamEncoder({ model: 'smart', inputTokens: 12 });
      for (const item of toolStream)
        for (const event of encoder.push(item)) response.write(formatAnthropicEvent(event));
      for (const event of encoder.finish({
        inputTokens: 12,
        outputTokens: 30,
        cachedInputTokens: 0,
        reasoningTokens: 0,
      }))
        response.write(formatAnthropicEvent(event));
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new Anthropic({
        apiKey: 'test',
        baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        maxRetries: 0,
      });
      const message = await client.messages
        .stream({ model: 'smart', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
        .finalMessage();
      expect(message.content).toEqual([
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oran' } },
        { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
      ]);
      expect(message.stop_reason).toBe('tool_use');
      expect(message.usage.output_tokens).toBe(30);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps one tool call whose every delta repeats its id in one tool_use block', () => {
    const encoder = createAnthropicStreamEncoder({ model: 'smart' });
    const call = (id: string, index: number, name: string | undefined, argumentsPart: string) =>
      chunk({
        tool_calls: [
          { index, id, type: 'function', function: { ...(name ? { name } : {}), arguments: argumentsPart } },
        ],
      });
    const events = [
      call('call_1', 0, 'get_weather', ''),
      call('call_1', 0, undefined, '{"city":'),
      call('call_1', 0, undefined, '"Oran"}'),
      // A provider numbering every call 0: a new id is a new call.
      call('call_2', 0, 'get_time', '{}'),
      chunk({}, 'tool_calls'),
    ].flatMap((item) => encoder.push(item));
    const blocks = events
      .filter((event) => event.event === 'content_block_start')
      .map((event) => event.data.content_block);
    expect(blocks).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} },
      { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
    ]);
    const inputOf = (index: number) =>
      events
        .filter((event) => event.event === 'content_block_delta' && event.data.index === index)
        .map((event) => (event.data.delta as { partial_json: string }).partial_json)
        .join('');
    expect(inputOf(0)).toBe('{"city":"Oran"}');
    expect(inputOf(1)).toBe('{}');
  });

  it('emits an error event for a failure mid-stream', () => {
    const encoder = createAnthropicStreamEncoder({ model: 'smart' });
    const error = new GatewayError({
      status: 502,
      type: 'upstream_error',
      code: 'stream_interrupted',
      message: 'cut',
    });
    expect(encoder.error(error)).toEqual([
      { event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'cut' } } },
    ]);
  });
});
