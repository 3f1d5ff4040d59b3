import { describe, expect, it } from 'vitest';
import { type ExportedConversation, toPdf } from './export.js';

type Message = ExportedConversation['messages'][number];

function conversation(
  messages: Array<Partial<Message> & Pick<Message, 'role' | 'content'>>,
  systemPrompt = '',
) {
  return {
    title: 'Refund',
    model: 'gpt-test',
    systemPrompt,
    createdAt: '2026-01-01T00:00:00.000Z',
    messages: messages.map((message) => ({
      model: message.role === 'assistant' ? 'gpt-test' : null,
      inputTokens: 0,
      outputTokens: 0,
      credits: 0,
      createdAt: '2026-01-01T00:00:00.000Z',
      ...message,
    })),
  };
}

describe('the PDF export', () => {
  const pages = (pdf: Buffer) => pdf.toString('latin1').match(/\/Type \/Page\n/g)?.length ?? 0;

  it('lays out a message of 200,000 characters without a space, filling its lines', async () => {
    // Letters and digits with no place to break a line between them (a key, a hash, a blob pasted into a question):
    // PDFKit alone spent minutes and gigabytes breaking them into lines.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const blob = Array.from(
      { length: 200_000 },
      (_, index) => alphabet[(index * 7919) % alphabet.length],
    ).join('');
    const unbroken = await toPdf(conversation([{ role: 'user', content: blob }]));
    expect(unbroken.subarray(0, 5).toString()).toBe('%PDF-');
    // Its lines are as full as those of the same characters with a space every 64: no more pages than those take.
    const spaced = await toPdf(conversation([{ role: 'user', content: blob.match(/.{1,64}/g)!.join(' ') }]));
    expect(pages(unbroken)).toBeGreaterThan(40);
    expect(pages(unbroken)).toBeLessThanOrEqual(pages(spaced));
  });
});
