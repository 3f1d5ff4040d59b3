import { describe, expect, it } from 'vitest';
import { classifyMediaPart } from './media-part.js';

describe('classifyMediaPart', () => {
  it('takes an inline part by its data URL media type, with the most bytes its payload decodes to', () => {
    expect(classifyMediaPart('data:application/pdf;base64,JVBERi0xLjQK')).toEqual({
      kind: 'document',
      mediaType: 'application/pdf',
      inline: true,
      bytes: 9,
    });
    expect(classifyMediaPart('data:IMAGE/PNG;base64,iVBORw0KGgo=').kind).toBe('image');
    expect(classifyMediaPart('data:audio/ogg;base64,T2dnUw==').kind).toBe('audio');
    expect(classifyMediaPart('data:video/webm;base64,GkXfow==').kind).toBe('video');
    expect(classifyMediaPart('data:text/csv;base64,YSxiCg==')).toMatchObject({ kind: 'text', bytes: 6 });
    expect(classifyMediaPart('data:application/zip;base64,UEsDBA==').kind).toBe('unknown');
  });

  it('takes a link by its extension, as Gemini sends it, and one naming none as unknown', () => {
    expect(classifyMediaPart('https://example.com/a.JPG#top')).toEqual({
      kind: 'image',
      mediaType: 'image/jpeg',
      inline: false,
      bytes: 0,
    });
    expect(classifyMediaPart('https://example.com/report.pdf?download=1')).toMatchObject({
      kind: 'document',
      mediaType: 'application/pdf',
    });
    expect(classifyMediaPart('https://www.youtube.com/watch?v=abc')).toMatchObject({
      kind: 'unknown',
      mediaType: 'image/jpeg',
    });
    // Not base64: sent as a link, naming nothing.
    expect(classifyMediaPart('data:text/plain,hello').kind).toBe('unknown');
  });
});
