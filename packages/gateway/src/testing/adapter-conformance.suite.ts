import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../config.js';
import { createGateway, type Gateway } from '../gateway.js';
import { GatewayError } from '../spec/gateway-error.js';
import { estimateTokens, type Usage } from '../spec/usage.js';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.js';
import { collect, collectSettled, emptyContext, fastResilience, parseConfig } from './helpers.js';

export interface AdapterConformanceOptions {
  name: string;
  /** The provider entry pointing at the fake upstream. */
  provider: (baseUrl: string, key: string) => GatewayConfigInput['providers'][string];
  /** A recorded non-streamed text answer, and the text it holds. */
  textAnswer: unknown;
  expectedText: string;
  /**
   * `textAnswer` without the usage the provider reports in it; none for a provider whose answers must carry it (an
   * Anthropic message without usage is refused as invalid).
   */
  textAnswerWithoutUsage?: unknown;
  /**
   * A recorded embeddings answer for the inputs 'hello world' and 'bye' without the usage the provider reports in it
   * (Gemini's never carries any); none for a provider without embeddings.
   */
  embeddingsAnswerWithoutUsage?: unknown;
  /**
   * Whether the provider reads token ids (OpenAI's tokenizer) as embeddings input; one that embeds text only must
   * refuse them before sending anything. Default false.
   */
  embedsTokenIds?: boolean;
  /** A recorded stream (events in order, incl. the final one), and the text it holds. */
  textStream: Array<{ event?: string; data: string }>;
  expectedStreamText: string;
  /** The provider's error body around a message. */
  errorBody: (message: string) => unknown;
}

function expectIntegerUsage(usage: Usage): void {
  for (const value of Object.values(usage)) {
    expect(Number.isInteger(value)).toBe(true);
    expect(value).toBeGreaterThanOrEqual(0);
  }
  expect(usage.cachedInputTokens).toBeLessThanOrEqual(usage.inputTokens);
  expect(usage.reasoningTokens).toBeLessThanOrEqual(usage.outputTokens);
}

/** What every adapter must do, whatever its provider: the same OpenAI shapes out, the same errors. */
export function runAdapterConformanceSuite(options: AdapterConformanceOptions): void {
  describe(`adapter conformance: ${options.name}`, () => {
    const key = 'sk-conformance-secret-0123456789';
    let upstream: FakeUpstream;
    let gateway: Gateway;

    beforeEach(async () => {
      upstream = await startFakeUpstream();
      gateway = createGateway({
        config: parseConfig({
          providers: { subject: options.provider(upstream.url, key) },
          models: {
            subject: {
              provider: 'subject',
              model: 'upstream-model',
              contextWindow: 100_000,
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

    const request = { model: 'subject', messages: [{ role: 'user' as const, content: 'Hello' }] };

    it('answers in the OpenAI shape under the public model id', async () => {
      upstream.enqueue({ kind: 'json', body: options.textAnswer });
      const result = await gateway.chat(request, emptyContext);
      expect(result.response.object).toBe('chat.completion');
      expect(result.response.model).toBe('subject');
      expect(result.response.id.length).toBeGreaterThan(0);
      expect(result.response.choices[0]?.message.role).toBe('assistant');
      expect(result.response.choices[0]?.message.content).toBe(options.expectedText);
      expect(result.response.choices[0]?.finish_reason).toBe('stop');
      expect(result.response.usage?.prompt_tokens).toBe(result.usage.inputTokens);
      expectIntegerUsage(result.usage);
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      expect(result.served).toEqual({ provider: 'subject', model: 'subject', keyIndex: 0 });
    });

    if (options.textAnswerWithoutUsage !== undefined) {
      const answer = options.textAnswerWithoutUsage;
      it('estimates the usage of an answer that reports none, rather than billing it as nothing', async () => {
        upstream.enqueue({ kind: 'json', body: answer });
        const result = await gateway.chat(request, emptyContext);
        expect(result.response.choices[0]?.message.content).toBe(options.expectedText);
        expect(result.usage).toEqual({
          inputTokens: estimateTokens('Hello'),
          outputTokens: estimateTokens(options.expectedText),
          cachedInputTokens: 0,
          reasoningTokens: 0,
        });
        expect(result.response.usage?.completion_tokens).toBe(result.usage.outputTokens);
      });
    }

    if (options.embeddingsAnswerWithoutUsage !== undefined) {
      const answer = options.embeddingsAnswerWithoutUsage;
      it('estimates the input tokens of embeddings whose answer reports none, rather than billing them as nothing', async () => {
        upstream.enqueue({ kind: 'json', body: answer });
        const result = await gateway.embeddings(
          { model: 'subject', input: ['hello world', 'bye'] },
          emptyContext,
        );
        expect(result.response.data).toHaveLength(2);
        const inputTokens = estimateTokens('hello world') + estimateTokens('bye');
        expect(result.usage).toEqual({
          inputTokens,
          outputTokens: 0,
          cachedInputTokens: 0,
          reasoningTokens: 0,
        });
        expect(result.response.usage).toEqual({ prompt_tokens: inputTokens, total_tokens: inputTokens });
      });

      const tokenIds = [[15_339, 1_917], [2_001]];
      if (options.embedsTokenIds) {
        it('sends token-id embeddings input as it came', async () => {
          upstream.enqueue({ kind: 'json', body: answer });
          await gateway.embeddings({ model: 'subject', input: tokenIds }, emptyContext);
          expect(upstream.requests[0]?.body).toMatchObject({ input: tokenIds });
        });
      } else {
        it('refuses token-id embeddings input with a 400, sending nothing, as it embeds text only', async () => {
          for (const input of [tokenIds[0]!, tokenIds]) {
            const error = await gateway
              .embeddings({ model: 'subject', input }, emptyContext)
              .catch((caught: unknown) => caught);
            expect(error).toBeInstanceOf(GatewayError);
            expect((error as GatewayError).toOpenAIError()).toEqual({
              error: {
                type: 'invalid_request_error',
                code: 'invalid_request',
                message: expect.stringContaining('embeds text, not token ids'),
                param: 'input',
              },
            });
          }
          expect(upstream.requests).toHaveLength(0);
        });
      }
    }

    it('streams OpenAI chunks: role first, one finish, usage last', async () => {
      upstream.enqueue({ kind: 'sse', events: options.textStream });
      const result = await gateway.chatStream({ ...request, stream: true }, emptyContext);
      const chunks = await collect(result.chunks);
      expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
      expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
      expect(
        chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === 'subject'),
      ).toBe(true);
      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(
        options.expectedStreamText,
      );
      expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason)).toHaveLength(1);
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage?.completion_tokens).toBe(result.usage().outputTokens);
      expectIntegerUsage(result.usage());
      expect(result.usage().outputTokens).toBeGreaterThan(0);
    });

    it('throws stream_interrupted when the stream stops early, and still reports usage', async () => {
      upstream.enqueue({ kind: 'sse', events: options.textStream.slice(0, -1) });
      const result = await gateway.chatStream({ ...request, stream: true }, emptyContext);
      const { error } = await collectSettled(result.chunks);
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe('stream_interrupted');
      expectIntegerUsage(result.usage());
    });

    it('maps 429, 5xx and 401 the same way, without leaking the key', async () => {
      upstream.enqueue(
        { kind: 'json', status: 429, body: options.errorBody('slow down'), headers: { 'retry-after': '2' } },
        { kind: 'json', status: 500, body: options.errorBody('boom') },
        { kind: 'json', status: 401, body: options.errorBody(`invalid key ${key}`) },
      );
      const errors: GatewayError[] = [];
      for (let call = 0; call < 3; call += 1) {
        errors.push(
          (await gateway.chat(request, emptyContext).catch((caught: unknown) => caught)) as GatewayError,
        );
      }
      expect(errors.map((error) => [error.status, error.code, error.isRetryable])).toEqual([
        [429, 'upstream_rate_limited', true],
        [502, 'upstream_error', true],
        [502, 'upstream_auth_failed', false],
      ]);
      expect(errors[0]?.retryAfterMs).toBe(2000);
      for (const error of errors) expect(JSON.stringify(error.toOpenAIError())).not.toContain(key);
    });

    it('turns unknown parameters into warnings, not failures', async () => {
      upstream.enqueue({ kind: 'json', body: options.textAnswer });
      const result = await gateway.chat({ ...request, some_future_parameter: 1 }, emptyContext);
      expect(result.warnings).toContain('parameter "some_future_parameter" is not supported and was ignored');
      expect(JSON.stringify(upstream.requests[0]?.body)).not.toContain('some_future_parameter');
    });
  });
}
