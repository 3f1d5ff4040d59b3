import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeObjectStreamPdf } from '../testing/pdf.js';
import { base64Chunk, classifyMediaPart, decodeBase64 } from './media-part.js';

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

  it('takes a link by its extension, as Gemini sends it; one without any as an image unless held by reference', () => {
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
    expect(classifyMediaPart('https://youtu.be/abc').kind).toBe('unknown');
    expect(classifyMediaPart('https://generativelanguage.googleapis.com/v1beta/files/abc-123').kind).toBe(
      'unknown',
    );
    expect(classifyMediaPart('gs://bucket/clip').kind).toBe('unknown');
    // An extension the table does not know may be any media.
    expect(classifyMediaPart('https://example.com/clip.mp4').kind).toBe('unknown');
    // A CDN or image service link names no extension: it goes as image/jpeg and is billed as an image.
    expect(classifyMediaPart('https://images.example.com/photo?id=42&w=800')).toMatchObject({
      kind: 'image',
      mediaType: 'image/jpeg',
    });
    expect(classifyMediaPart('https://cdn.example.com/u/7f3a9c')).toMatchObject({ kind: 'image' });
    // Not base64: a link of another scheme, naming nothing known.
    expect(classifyMediaPart('data:text/plain,hello').kind).toBe('image');
  });

  it('decodes an inline PDF chunk by chunk to the bytes a decode of the whole gives, whatever the base64 holds', () => {
    const clean = randomBytes(Math.floor(base64Chunk * 2.5)).toString('base64');
    // What Node's decoder skips (whitespace, other characters), stops at (padding) or takes (the URL-safe alphabet),
    // around the ends of the chunks and elsewhere, and what is left over at the end.
    const strays = ['=', '==', ' ', '\r\n', '-', '_', '*', '\u00e9', '\u2603', 'A', 'AB', 'ABC'];
    const at = [0, 1, 3, base64Chunk - 2, base64Chunk - 1, base64Chunk, base64Chunk + 1, 2 * base64Chunk + 3];
    const payloads = [clean, clean.slice(0, 2 * base64Chunk), clean.slice(0, 2 * base64Chunk + 1), ''];
    for (const stray of strays)
      for (const position of at) payloads.push(clean.slice(0, position) + stray + clean.slice(position));
    payloads.push('=', 'A', 'AA==', 'AAA=', '====', 'AA AA');
    for (const payload of payloads) {
      const url = `data:application/pdf;base64,${payload}`;
      const head = url.indexOf(',') + 1;
      expect(decodeBase64(url, head).equals(Buffer.from(url.slice(head), 'base64'))).toBe(true);
    }
    // A PDF past several chunks counts as it did.
    const pdf = makeObjectStreamPdf(2_000);
    expect(pdf.length).toBeGreaterThan(base64Chunk * 2);
    const url = `data:application/pdf;base64,${pdf.toString('base64')}`;
    expect(classifyMediaPart(url, { countPages: true }).pages).toBe(2_000);
  });
});
