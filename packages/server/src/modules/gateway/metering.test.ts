import type { ChatCompletionRequest, EmbeddingsRequest } from '@webox/gateway';
import { describe, expect, it } from 'vitest';
import { embeddingsTokenBound, promptTokenBound } from './metering.js';

describe('the hold bounds of a request', () => {
  it('count each image as the most one costs on the candidates, as the engine bounds it', () => {
    const request: ChatCompletionRequest = {
      model: 'any',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/b.png', detail: 'low' } },
          ],
        },
      ],
    };
    // 8 per message, 2 bytes of text, and the bound of each image whatever its detail.
    expect(promptTokenBound(request, 48_169)).toBe(8 + 2 + 2 * 48_169);
    expect(promptTokenBound(request, 4_800)).toBe(8 + 2 + 2 * 4_800);
  });

  it('count one token per id of a token array, and the ids of every array of several', () => {
    const embeddings = (input: EmbeddingsRequest['input']) => embeddingsTokenBound({ model: 'any', input });
    expect(embeddings([1, 2, 3])).toBe(3);
    expect(
      embeddings([
        [1, 2],
        [3, 4, 5],
      ]),
    ).toBe(5);
    expect(embeddings(['ab', 'é'])).toBe(4);
    expect(embeddings('abc')).toBe(3);
  });
});
