import type { ChatCompletionRequest, EmbeddingsRequest, MediaPart, ResolvedTarget } from '@webox/gateway';
import { describe, expect, it } from 'vitest';
import { embeddingsTokenBound, largestContextWindow, promptTokenBound } from './metering.js';

describe('the hold bounds of a request', () => {
  it('count each image_url part as the most what it carries costs on the candidates, as the engine bounds it', () => {
    const request: ChatCompletionRequest = {
      model: 'any',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'data:application/pdf;base64,JVBERi0=', detail: 'low' } },
          ],
        },
      ],
    };
    const seen: MediaPart[] = [];
    const bound = (part: MediaPart) => {
      seen.push(part);
      return part.kind === 'document' ? 560_000 : 4_800;
    };
    // 8 per message, 2 bytes of text, and the bound of each part for its kind, whatever its detail.
    expect(promptTokenBound(request, bound, 1_048_576)).toBe(8 + 2 + 4_800 + 560_000);
    expect(seen.map((part) => part.kind)).toEqual(['image', 'document']);
    // Text alone asks for no bound.
    seen.length = 0;
    expect(
      promptTokenBound({ model: 'any', messages: [{ role: 'user', content: 'Hi' }] }, bound, 128_000),
    ).toBe(10);
    expect(seen).toEqual([]);
  });

  it('never count more prompt tokens than the largest context window among the candidates', () => {
    const video: ChatCompletionRequest = {
      model: 'any',
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:video/mp4;base64,AAAA' } }] },
      ],
    };
    const window = (contextWindow: number) => ({ contextWindow }) as ResolvedTarget;
    expect(largestContextWindow([window(200_000), window(1_048_576), window(128_000)])).toBe(1_048_576);
    expect(largestContextWindow([])).toBe(0);
    // Gemini's bound for one video part is 2,160,000 tokens; a model reading 1,048,576 cannot bill more.
    expect(promptTokenBound(video, () => 2_160_000, 1_048_576)).toBe(1_048_576);
    expect(promptTokenBound(video, () => 2_160_000, 4_194_304)).toBe(8 + 2_160_000);
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
