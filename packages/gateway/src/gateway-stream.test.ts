import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from './gateway.js';
import { MemoryBreakerStore } from './resilience/breaker-store.js';
import { breakerKeyFor } from './resilience/key-rotation.js';
import { GatewayError } from './spec/gateway-error.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from './spec/openai-types.js';
import {
  type FakeResponse,
  type FakeUpstream,
  readChunksFixture,
  readNamedChunksFixture,
  startFakeUpstream,
} from './testing/fake-upstream.js';
import {
  collectSettled,
  emptyContext,
  type FallbackGatewayOptions,
  fallbackGateway,
  fastResilience,
  firstProviderKey,
  providerFixture,
} from './testing/helpers.js';

/** How a stream starts, when it starts, and how long its gaps may be: the engine's stream path against real HTTP. */

/** The backup's answer: a role chunk, "Hello, world!", a finish, usage (1,200 in, 40 out) and [DONE]. */
const backupEvents = () => readChunksFixture(providerFixture('openai-compatible', 'text.chunks.txt'));
const helloStream: ChatCompletionRequest = {
  model: 'smart',
  messages: [{ role: 'user', content: 'Hi' }],
  stream: true,
};
const textOf = (chunks: ChatCompletionChunk[]) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');

/** Anthropic opens the message (5,000 input tokens reported), then is overloaded before any content. */
const overloadedAtStart = () =>
  readNamedChunksFixture(providerFixture('anthropic', 'overloaded-at-start.chunks.txt'));

let first: FakeUpstream;
let backup: FakeUpstream;
beforeEach(async () => {
  first = await startFakeUpstream();
  backup = await startFakeUpstream();
});
afterEach(async () => {
  await Promise.all([first.close(), backup.close()]);
});

/** `smart` and `vectors` try `first` (of `type`), twice, then the OpenAI-compatible `backup`: `fallbackGateway`. */
const build = (options: Omit<FallbackGatewayOptions, 'urls'> = {}): Gateway =>
  fallbackGateway({ urls: { first: first.url, backup: backup.url }, ...options });

describe('a stream starts at its first content, not at the opening role chunk', () => {
  // The provider's own report of a failure, as an error event: a cut, silence or an unreadable event after the 2xx is
  // final instead (gateway-answered.test.ts).
  const failedOpenings: Array<{
    name: string;
    type: 'anthropic' | 'cohere' | 'openai-compatible';
    response: FakeResponse;
    code: string;
  }> = [
    {
      name: 'Anthropic: message_start, then overloaded_error',
      type: 'anthropic',
      response: {
        kind: 'sse',
        events: overloadedAtStart(),
        eventDelayMs: 20,
      },
      code: 'upstream_unavailable',
    },
    {
      name: 'OpenAI-compatible: the role chunk, then an error event',
      type: 'openai-compatible',
      response: {
        kind: 'sse',
        events: [backupEvents()[0]!, { data: JSON.stringify({ error: { message: 'overloaded' } }) }],
        eventDelayMs: 20,
      },
      code: 'upstream_error',
    },
  ];

  for (const opening of failedOpenings) {
    it(`tries the next target when the provider fails after nothing but the opening (${opening.name}), and bills only the backup`, async () => {
      first.setHandler(() => opening.response);
      backup.setHandler(() => ({ kind: 'sse', events: backupEvents() }));
      const result = await build({ type: opening.type }).chatStream(helloStream, emptyContext);
      const { items, error } = await collectSettled(result.chunks);
      expect(error).toBeUndefined();
      expect(result.served.provider).toBe('backup');
      expect(textOf(items)).toBe('Hello, world!');
      // The client sees one opening: the backup's, delivered with its first content.
      expect(items.filter((chunk) => chunk.choices[0]?.delta.role === 'assistant')).toHaveLength(1);
      expect(items[0]!.choices[0]!.delta.role).toBe('assistant');
      expect(result.attempts.map((attempt) => [attempt.provider, attempt.outcome])).toEqual([
        ['first', 'error'],
        ['first', 'error'],
        ['backup', 'success'],
      ]);
      expect(result.attempts[0]!.code).toBe(opening.code);
      // What the caller is billed for is what the backup reported, not the 5,000 tokens of a failed opening.
      expect(result.usage()).toEqual({
        inputTokens: 1200,
        outputTokens: 40,
        cachedInputTokens: 1024,
        reasoningTokens: 32,
      });
    });
  }

  it('hands the opening role chunk on with the first content, in one batch', async () => {
    // Every Anthropic event in its own network read: the role chunk arrives alone, 30 ms before any text.
    first.setHandler(() => ({
      kind: 'sse',
      events: readNamedChunksFixture(providerFixture('anthropic', 'text.chunks.txt')),
      eventDelayMs: 30,
    }));
    const result = await build({ type: 'anthropic' }).chatStream(helloStream, emptyContext);
    const batches: ChatCompletionChunk[][] = [];
    for await (const batch of result.batches) batches.push(batch);
    expect(result.served.provider).toBe('first');
    const [opening] = batches;
    expect(opening!.map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hello' },
    ]);
    expect(textOf(batches.flat())).toBe('Hello!');
  });

  it('gives up on a target that opens but sends no content within the attempt timeout, without sending it on', async () => {
    first.setHandler(() => ({
      kind: 'sse',
      events: [
        overloadedAtStart()[0]!,
        { ...readNamedChunksFixture(providerFixture('anthropic', 'text.chunks.txt'))[1]!, delayMs: 5_000 },
      ],
    }));
    backup.setHandler(() => ({ kind: 'sse', events: backupEvents() }));
    const gateway = build({ type: 'anthropic', resilience: { ...fastResilience, attemptTimeoutMs: 300 } });
    const started = Date.now();
    const error = await gateway.chatStream(helloStream, emptyContext).catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Claude accepted the request and began the message (its input is billed): it is not sent again.
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('upstream_invalid_response');
    expect((error as GatewayError).message).toContain('attempt timeout');
    expect(first.requests).toHaveLength(1);
    expect(backup.requests).toHaveLength(0);
  });
});

describe('stream timeouts between events', () => {
  const strictBreaker = {
    ...fastResilience,
    attemptTimeoutMs: 300,
    breaker: { failureThreshold: 1, openMs: 60_000 },
  };

  it('do not count the time a slow consumer holds a chunk: the whole answer, no error, the breaker closed', async () => {
    const store = new MemoryBreakerStore();
    const gateway = build({ resilience: strictBreaker, breakerStore: store });
    first.setHandler(() => ({ kind: 'sse', events: backupEvents(), eventDelayMs: 50 }));
    const result = await gateway.chatStream({ ...helloStream, model: 'a' }, emptyContext);
    const items: ChatCompletionChunk[] = [];
    let error: unknown;
    try {
      for await (const chunk of result.chunks) {
        items.push(chunk);
        // A client reading slowly: the server waits for it to drain, more than twice the attempt timeout.
        if (items.length === 2) await new Promise((resolve) => setTimeout(resolve, 700));
      }
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeUndefined();
    expect(textOf(items)).toBe('Hello, world!');
    expect(await store.getState(breakerKeyFor('first', firstProviderKey))).toMatchObject({
      status: 'closed',
      failures: 0,
    });
    expect(gateway.health().find((entry) => entry.provider === 'first')).toMatchObject({ successRate: 1 });
  });

  it('still cut an upstream that goes silent while the consumer waits for it, and count it against the key', async () => {
    const store = new MemoryBreakerStore();
    const gateway = build({ resilience: strictBreaker, breakerStore: store });
    const events = backupEvents();
    // Two events, then 5 s of silence: the consumer is reading, so this is the upstream's doing.
    first.setHandler(() => ({
      kind: 'sse',
      events: [...events.slice(0, 2), { ...events[2]!, delayMs: 5_000 }],
    }));
    const result = await gateway.chatStream({ ...helloStream, model: 'a' }, emptyContext);
    const started = Date.now();
    const { items, error } = await collectSettled(result.chunks);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(textOf(items)).toBe('Hello');
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('stream_interrupted');
    expect((error as GatewayError).message).toContain('upstream_timeout');
    await expect
      .poll(() => store.getState(breakerKeyFor('first', firstProviderKey)))
      .toMatchObject({ status: 'open', failures: 1 });
  });

  it('keep the configured gap for a stream a late fallback serves, not the little left of the total budget', async () => {
    // The first target hangs for its whole attempt (1 s) of a 1.4 s budget; the fallback answers at once, then
    // pauses 500 ms between events: well within the 1 s allowed between events.
    const gateway = build({
      resilience: { ...fastResilience, attemptTimeoutMs: 1_000, totalTimeoutMs: 1_400 },
    });
    first.setHandler(() => ({ kind: 'hang' }));
    const events = backupEvents();
    backup.setHandler(() => ({
      kind: 'sse',
      events: events.map((event, index) => (index === 2 || index === 3 ? { ...event, delayMs: 500 } : event)),
    }));
    const result = await gateway.chatStream(helloStream, emptyContext);
    const { items, error } = await collectSettled(result.chunks);
    expect(error).toBeUndefined();
    expect(result.served.provider).toBe('backup');
    expect(result.attempts[0]).toMatchObject({ provider: 'first', code: 'upstream_timeout' });
    expect(textOf(items)).toBe('Hello, world!');
  });
});
