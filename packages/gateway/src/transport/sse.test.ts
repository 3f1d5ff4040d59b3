import { describe, expect, it } from 'vitest';
import { MalformedStreamError, readServerSentEventBatches } from './sse.js';

async function* bytes(parts: string[]) {
  for (const part of parts) yield new TextEncoder().encode(part);
}

async function dataOf(parts: string[], options?: Parameters<typeof readServerSentEventBatches>[1]) {
  const data: string[] = [];
  for await (const batch of readServerSentEventBatches(bytes(parts), options))
    for (const event of batch) data.push(event.data);
  return data;
}

describe('readServerSentEventBatches', () => {
  it('ignores what the SSE spec says to ignore: unknown fields, a retry that is not a number, comments', async () => {
    expect(
      await dataOf([
        'data: a\n\n',
        'foo: bar\n\n',
        'retry: 1.5\n\n',
        ': OPENROUTER PROCESSING\n\n',
        'not an event\n',
        'data: b\n\n',
      ]),
    ).toEqual(['a', 'b']);
  });

  it('reads events whose CRLF or UTF-8 characters are split across reads', async () => {
    expect(await dataOf(['data: a\r', '\n\r', '\ndata: b\r\n\r\n'])).toEqual(['a', 'b']);
    const encoded = new TextEncoder().encode('data: é€😀\n\n');
    async function* oneByteAtATime() {
      for (const byte of encoded) yield new Uint8Array([byte]);
    }
    const data: string[] = [];
    for await (const batch of readServerSentEventBatches(oneByteAtATime()))
      for (const event of batch) data.push(event.data);
    expect(data).toEqual(['é€😀']);
  });

  it('fails on an event that grows past the buffer bound rather than holding it all', async () => {
    await expect(
      dataOf(['data: a\n\n', `data: ${'x'.repeat(2_000)}`], { maxBufferSize: 1_000 }),
    ).rejects.toThrow(MalformedStreamError);
    expect(await dataOf([`data: ${'x'.repeat(900)}\n\n`], { maxBufferSize: 1_000 })).toHaveLength(1);
  });
});
