import { runAdapterConformanceSuite } from '../testing/adapter-conformance.suite.js';
import { readChunksFixture, readJsonFixture, readNamedChunksFixture } from '../testing/fake-upstream.js';
import { providerFixture } from '../testing/helpers.js';

/** A recorded answer with the field carrying its usage taken out. */
function withoutField(answer: unknown, field: string): unknown {
  const { [field]: _removed, ...rest } = answer as Record<string, unknown>;
  return rest;
}

runAdapterConformanceSuite({
  name: 'openai-compatible',
  provider: (baseUrl, key) => ({
    type: 'openai-compatible',
    preset: 'openai',
    baseUrl,
    keys: [key],
    allowPrivateNetwork: true,
  }),
  textAnswer: readJsonFixture(providerFixture('openai-compatible', 'text.json')),
  textAnswerWithoutUsage: withoutField(
    readJsonFixture(providerFixture('openai-compatible', 'text.json')),
    'usage',
  ),
  embeddingsAnswerWithoutUsage: withoutField(
    readJsonFixture(providerFixture('openai-compatible', 'embeddings.json')),
    'usage',
  ),
  embedsTokenIds: true,
  expectedText: 'Hello! How can I assist you today?',
  textStream: readChunksFixture(providerFixture('openai-compatible', 'text.chunks.txt')),
  expectedStreamText: 'Hello, world!',
  errorBody: (message) => ({ error: { message, type: 'invalid_request_error', code: null } }),
});

runAdapterConformanceSuite({
  name: 'anthropic',
  provider: (baseUrl, key) => ({ type: 'anthropic', baseUrl, keys: [key], allowPrivateNetwork: true }),
  textAnswer: readJsonFixture(providerFixture('anthropic', 'text.json')),
  expectedText: 'Hi! My name is Claude.',
  textStream: readNamedChunksFixture(providerFixture('anthropic', 'text.chunks.txt')),
  expectedStreamText: 'Hello!',
  errorBody: (message) => ({ type: 'error', error: { type: 'api_error', message } }),
});

runAdapterConformanceSuite({
  name: 'gemini',
  provider: (baseUrl, key) => ({ type: 'gemini', baseUrl, keys: [key], allowPrivateNetwork: true }),
  textAnswer: readJsonFixture(providerFixture('gemini', 'text.json')),
  textAnswerWithoutUsage: withoutField(
    readJsonFixture(providerFixture('gemini', 'text.json')),
    'usageMetadata',
  ),
  embeddingsAnswerWithoutUsage: readJsonFixture(providerFixture('gemini', 'embeddings.json')),
  expectedText: 'AI learns patterns from data to make predictions.',
  textStream: readChunksFixture(providerFixture('gemini', 'text.chunks.txt')),
  expectedStreamText: 'The sky is blue because of Rayleigh scattering.',
  errorBody: (message) => ({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }),
});

runAdapterConformanceSuite({
  name: 'cohere',
  provider: (baseUrl, key) => ({ type: 'cohere', baseUrl, keys: [key], allowPrivateNetwork: true }),
  textAnswer: readJsonFixture(providerFixture('cohere', 'text.json')),
  textAnswerWithoutUsage: withoutField(readJsonFixture(providerFixture('cohere', 'text.json')), 'usage'),
  embeddingsAnswerWithoutUsage: withoutField(
    readJsonFixture(providerFixture('cohere', 'embed.json')),
    'meta',
  ),
  expectedText: 'LLMs are neural networks trained on large text corpora.',
  textStream: readChunksFixture(providerFixture('cohere', 'text.chunks.txt')),
  expectedStreamText: 'Coca-Cola is a soft drink.',
  errorBody: (message) => ({ id: 'error-id', message }),
});
