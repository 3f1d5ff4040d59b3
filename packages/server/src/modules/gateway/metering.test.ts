import type { ChatCompletionRequest, EmbeddingsRequest } from '@webox/gateway';
import { describe, expect, it } from 'vitest';
import { embeddingsTokenBound, promptTokenBound } from './metering.js';

describe('the hold bounds of a request', () => {
  it('count an image as the most any provider documents for one: gpt-4o-mini at high detail, 8 tiles', () => {
    const request: ChatCompletionRequest = {
      model: 'any',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
          ],
        },
      ],
    };
    // 8 per message, 2 bytes of text, and 2,833 + 8 × 5,667 for the image.
    expect(promptTokenBound(request)).toBe(8 + 2 + 2_833 + 8 * 5_667);
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
