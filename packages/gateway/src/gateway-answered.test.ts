import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from './gateway.js';
import { MemoryBreakerStore } from './resilience/breaker-store.js';
import { breakerKeyFor } from './resilience/key-rotation.js';
import { GatewayError } from './spec/gateway-error.js';
import type { ChatCompletionRequest } from './spec/openai-types.js';
import {
  type FakeResponse,
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  readNamedChunksFixture,
  startFakeUpstream,
} from './testing/fake-upstream.js';
import {
  collect,
  emptyContext,
  type FallbackGatewayOptions,
  fallbackGateway,
  fastResilience,
  firstProviderKey,
  providerFixture,
} from './testing/helpers.js';

/**
 * Once a provider answered 2xx it has done, and billed, the work: an answer the engine then cannot read is a 502
 * `upstream_invalid_response`, never a second request to it nor to the next target. Counted by what reaches the fake
 * providers.
 */

const answerText = JSON.stringify(readJsonFixture(providerFixture('openai-compatible', 'text.json')));
const embeddingsText = JSON.stringify(
  readJsonFixture(providerFixture('openai-compatible', 'embeddings.json')),
);
const backupEvents = () => readChunksFixture(providerFixture('openai-compatible', 'text.chunks.txt'));
const hello: ChatCompletionRequest = { model: 'smart', messages: [{ role: 'user', content: 'Hi' }] };
const helloStream: ChatCompletionRequest = { ...hello, stream: true };
const json = (body: string): Extract<FakeResponse, { kind: 'raw' }> => ({
  kind: 'raw',
  status: 200,
  body,
  contentType: 'application/json',
});

let first: FakeUpstream;
let backup: FakeUpstream;
beforeEach(async () => {
  first = await startFakeUpstream();
  backup = await startFakeUpstream();
  // The backup always answers well: any request that reaches it is a second bill for one call.
  backup.setHandler((request) =>
    request.path.endsWith('/embeddings')
      ? json(embeddingsText)
      : (request.body as { stream?: boolean }).stream
        ? { kind: 'sse', events: backupEvents() }
        : json(answerText),
  );
});
afterEach(async () => {
  await Promise.all([first.close(), backup.close()]);
});

/** `smart` and `vectors` try `first` (of `type`), twice, then the OpenAI-compatible `backup`: `fallbackGateway`. */
const build = (options: Omit<FallbackGatewayOptions, 'urls'> = {}): Gateway =>
  fallbackGateway({ urls: { first: first.url, backup: backup.url }, ...options });

async function failure(call: Promise<unknown>): Promise<GatewayError> {
  const caught = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(GatewayError);
  return caught as GatewayError;
}

function expectNotSentAgain(error: GatewayError) {
  expect({ status: error.status, code: error.code, isRetryable: error.isRetryable }).toEqual({
    status: 502,
    code: 'upstream_invalid_response',
    isRetryable: false,
  });
  expect(error.toOpenAIError().error).toMatchObject({
    type: 'upstream_error',
    code: 'upstream_invalid_response',
  });
  expect(error.message).toContain('not sent again');
  expect(first.requests).toHaveLength(1);
  expect(backup.requests).toHaveLength(0);
}

const unreadableAnswers: Array<{ name: string; response: FakeResponse }> = [
  {
    name: 'the connection cut mid-body',
    response: { ...json(answerText), resetAfterBytes: 40 },
  },
  { name: 'a body that is not JSON', response: json(answerText.slice(0, -10)) },
  { name: 'JSON of another shape', response: json(JSON.stringify({ id: 'x', result: 'Hello' })) },
  {
    name: 'a body that is not JSON at all',
    response: { kind: 'raw', status: 200, body: '<html>hello</html>', contentType: 'text/html' },
  },
];

describe('a non-streamed chat the provider answered 2xx', () => {
  for (const answer of unreadableAnswers) {
    it(`is not sent again, to it or the next target, when its answer is unreadable (${answer.name})`, async () => {
      first.setHandler(() => answer.response);
      const error = await failure(build().chat(hello, emptyContext));
      expectNotSentAgain(error);
    });
  }

  it('is not sent again when the body stops coming: the attempt timeout ends it with the same 502', async () => {
    first.setHandler(() => ({ ...json(answerText), hangAfterBytes: 40 }));
    const gateway = build({ resilience: { ...fastResilience, attemptTimeoutMs: 300 } });
    const error = await failure(gateway.chat(hello, emptyContext));
    expectNotSentAgain(error);
  });

  it('is still retried and sent on after a failure before any 2xx: only the answered attempt is final', async () => {
    first.enqueue(
      { kind: 'json', status: 500, body: { error: { message: 'boom' } } },
      { ...json(answerText), resetAfterBytes: 40 },
    );
    const error = await failure(build().chat(hello, emptyContext));
    expect(error.code).toBe('upstream_invalid_response');
    expect(first.requests).toHaveLength(2);
    expect(backup.requests).toHaveLength(0);
  });

  it('counts against the key and the provider’s health, so the breaker sends the next calls elsewhere', async () => {
    const store = new MemoryBreakerStore();
    const gateway = build({
      breakerStore: store,
      resilience: { ...fastResilience, breaker: { failureThreshold: 1, openMs: 60_000 } },
    });
    first.setHandler(() => json('{"choices": ['));
    await failure(gateway.chat(hello, emptyContext));
    await expect
      .poll(() => store.getState(breakerKeyFor('first', firstProviderKey)))
      .toMatchObject({ status: 'open', failures: 1 });
    expect(gateway.health().find((entry) => entry.provider === 'first')).toMatchObject({
      samples: 1,
      successRate: 0,
      lastErrorCode: 'upstream_invalid_response',
    });

    const next = await gateway.chat(hello, emptyContext);
    expect(next.served.provider).toBe('backup');
    expect(next.attempts[0]).toMatchObject({ provider: 'first', outcome: 'skipped', code: 'breaker_open' });
    expect(first.requests).toHaveLength(1);
  });
});

describe('embeddings the provider answered 2xx', () => {
  const vectors = { model: 'vectors', input: ['hello'] };

  it('are not sent again when the body is cut', async () => {
    first.setHandler(() => ({ ...json(embeddingsText), resetAfterBytes: 30 }));
    expectNotSentAgain(await failure(build().embeddings(vectors, emptyContext)));
  });

  it('are not sent again when the body is not the documented shape', async () => {
    first.setHandler(() => json(JSON.stringify({ object: 'list', vectors: [[0.1, 0.2]] })));
    expectNotSentAgain(await failure(build().embeddings(vectors, emptyContext)));
  });
});

describe('a stream the provider answered 2xx', () => {
  const openingChunk = () => backupEvents()[0]!;
  const unreadableOpenings: Array<{ name: string; type?: 'cohere'; response: FakeResponse }> = [
    {
      name: 'the connection cut before any event',
      response: { kind: 'sse', events: backupEvents(), resetAfterEvents: 0 },
    },
    {
      name: 'the role chunk, then the connection cut',
      response: { kind: 'sse', events: [openingChunk()], resetAfterEvents: 1 },
    },
    {
      name: 'malformed SSE',
      response: {
        kind: 'raw',
        status: 200,
        body: 'this is not: an event stream\n\n{garbage}\n\n',
        contentType: 'text/event-stream',
      },
    },
    {
      name: 'an event of another shape',
      response: { kind: 'sse', events: [openingChunk(), { data: '{"choices": "none"}' }] },
    },
    {
      name: 'Cohere: message-start, then the stream ends',
      type: 'cohere',
      response: {
        kind: 'sse',
        events: readChunksFixture(providerFixture('cohere', 'text.chunks.txt')).slice(0, 1),
      },
    },
    {
      name: 'a JSON body, not an event stream',
      response: json(answerText),
    },
  ];

  for (const opening of unreadableOpenings) {
    it(`is not sent again when nothing readable came before the failure (${opening.name})`, async () => {
      first.setHandler(() => opening.response);
      const gateway = build(opening.type ? { type: opening.type } : {});
      expectNotSentAgain(await failure(gateway.chatStream(helloStream, emptyContext)));
    });
  }

  it('is sent on when the provider itself reports a failure before any content (Anthropic overloaded)', async () => {
    first.setHandler(() => ({
      kind: 'sse',
      events: readNamedChunksFixture(providerFixture('anthropic', 'overloaded-at-start.chunks.txt')),
    }));
    const result = await build({ type: 'anthropic' }).chatStream(helloStream, emptyContext);
    await collect(result.chunks);
    expect(result.served.provider).toBe('backup');
    expect(first.requests).toHaveLength(2);
    expect(backup.requests).toHaveLength(1);
  });
});
