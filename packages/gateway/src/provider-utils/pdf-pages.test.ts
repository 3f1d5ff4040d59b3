import { describe, expect, it } from 'vitest';
import { makePdf } from '../testing/pdf.js';
import { classifyMediaPart } from './media-part.js';
import { countPdfPages } from './pdf-pages.js';

const pdf = (body: string) => Buffer.from(`%PDF-1.7\n${body}\n%%EOF\n`, 'latin1');
/** A page tree: a root `/Pages` with `kids` pages and the `/Count` it claims. */
const tree = (kids: number, count = kids) =>
  [
    `1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj`,
    `2 0 obj << /Type /Pages /Kids [${Array.from({ length: kids }, (_, index) => `${index + 3} 0 R`).join(' ')}] /Count ${count} >> endobj`,
    ...Array.from(
      { length: kids },
      (_, index) => `${index + 3} 0 obj << /Type /Page /Parent 2 0 R >> endobj`,
    ),
  ].join('\n');

describe('countPdfPages', () => {
  it('counts the pages of real PDFs', async () => {
    for (const pages of [1, 3, 120]) expect(countPdfPages(await makePdf(pages))).toBe(pages);
  });

  it('counts the pages of an inline PDF classified for a hold, and only then', async () => {
    const url = `data:application/pdf;base64,${(await makePdf(4)).toString('base64')}`;
    expect(classifyMediaPart(url, { countPages: true })).toMatchObject({ kind: 'document', pages: 4 });
    expect(classifyMediaPart(url).pages).toBeUndefined();
    expect(classifyMediaPart('https://example.com/paper.pdf', { countPages: true }).pages).toBeUndefined();
  });

  it('gives no count for what does not show its pages in plain text', async () => {
    // Encrypted (Anthropic refuses it; its strings and streams are unreadable here).
    expect(countPdfPages(await makePdf(2, { userPassword: 'made-up-at-test-time' }))).toBeUndefined();
    // Objects packed in a compressed object stream.
    expect(
      countPdfPages(
        pdf(
          `${tree(1)}\n9 0 obj << /Type /ObjStm /N 40 /First 300 /Length 4 >> stream\nxxxx\nendstream endobj`,
        ),
      ),
    ).toBeUndefined();
    // A page tree given by reference, or with a comment in the way.
    expect(countPdfPages(pdf(tree(1).replace('/Kids [3 0 R]', '/Kids 9 0 R')))).toBeUndefined();
    expect(countPdfPages(pdf(tree(1).replace('/Kids [3 0 R]', '/Kids %c\n[3 0 R]')))).toBeUndefined();
    expect(countPdfPages(pdf(tree(1).replace('/Count 1', '/Count 9 0 R')))).toBeUndefined();
    expect(countPdfPages(pdf(tree(1).replace('/Kids [3 0 R]', '/Kids [3 0 R /Junk]')))).toBeUndefined();
    // No page at all, not a PDF, garbage.
    expect(countPdfPages(Buffer.from('%PDF-1.4\n'))).toBeUndefined();
    expect(countPdfPages(Buffer.from(tree(3)))).toBeUndefined();
    expect(countPdfPages(Buffer.from('JVBERi0xLjQK', 'base64'))).toBeUndefined();
    const garbage = Buffer.alloc(1 << 20);
    for (let index = 0; index < garbage.length; index += 1) garbage[index] = (index * 7919 + 13) % 251;
    expect(countPdfPages(garbage)).toBeUndefined();
  });

  it('never counts fewer pages than a reader may find, whatever the file claims', () => {
    // A /Count below the tree: the tree's pages.
    expect(countPdfPages(pdf(tree(5, 1)))).toBe(5);
    // A /Count above it (pdf.js trusts it): the /Count, however large.
    expect(countPdfPages(pdf(tree(1, 40)))).toBe(40);
    expect(countPdfPages(pdf(tree(1).replace('/Count 1', `/Count ${'9'.repeat(400)}`)))).toBe(1_000_000_000);
    // Pages no tree reaches, which a reader recovering a broken file collects.
    expect(
      countPdfPages(pdf(`${tree(1)}\n20 0 obj << /Type /Page >> endobj\n21 0 obj <</Type/Page>> endobj`)),
    ).toBe(3);
    // Names spelt with #xx escapes read as the names they are.
    expect(countPdfPages(pdf(tree(2).replace('/Kids', '/K#69ds').replace('/Count 2', '/C#6funt 30')))).toBe(
      30,
    );
    expect(countPdfPages(pdf('1 0 obj << /Type /P#61ge >> endobj 2 0 obj << /Type /Page >> endobj'))).toBe(2);
    expect(countPdfPages(pdf(tree(1).replace('/Kids [3 0 R]', '/K#69ds 9 0 R')))).toBeUndefined();
    expect(countPdfPages(pdf(`${tree(1)} /Encr#79pt 5 0 R`))).toBeUndefined();
    // A nested tree counts every page below it (and its inner nodes: a hold may be above the pages, never below).
    const nested = [
      '1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 3 >> endobj',
      '2 0 obj << /Type /Pages /Parent 1 0 R /Kids [4 0 R 5 0 R] /Count 2 >> endobj',
      '3 0 obj << /Type /Pages /Parent 1 0 R /Kids [6 0 R] /Count 1 >> endobj',
    ].join('\n');
    expect(countPdfPages(pdf(nested))).toBe(5);
  });

  it('counts an object an incremental update defines again once, at the most of its definitions', async () => {
    const original = await makePdf(3);
    // The update redefines the page tree (object 1 in pdfkit's output) with one page fewer, then one more.
    const shrunk = Buffer.concat([
      original,
      Buffer.from('\n1 0 obj << /Type /Pages /Count 2 /Kids [7 0 R 11 0 R] >> endobj\n%%EOF\n'),
    ]);
    expect(countPdfPages(shrunk)).toBe(3);
    const grown = Buffer.concat([
      original,
      Buffer.from('\n1 0 obj << /Type /Pages /Count 4 /Kids [7 0 R 11 0 R 15 0 R 30 0 R] >> endobj\n'),
      Buffer.from('30 0 obj << /Type /Page /Parent 1 0 R >> endobj\n%%EOF\n'),
    ]);
    expect(countPdfPages(grown)).toBe(4);
  });

  it('neither crashes nor hangs on hostile input: deep nesting, long runs, many keys', () => {
    const size = 4_200_000;
    const hostile = [
      pdf(`1 0 obj ${'<<'.repeat(size / 2)} /Type /Page`),
      pdf(`1 0 obj ${'['.repeat(size)}`),
      pdf(`1 0 obj << /Kids [${'7'.repeat(size)}`),
      pdf('1'.repeat(size)),
      pdf('1 '.repeat(size / 2)),
      pdf(`${'/Type '.repeat(size / 6)}`),
      pdf(`${'/Count '.repeat(size / 7)}`),
      pdf(`${'/Kids'.repeat(size / 5)}`),
      pdf(`1 0 obj << /Type /Pages /Kids [${'2 0 R '.repeat(size / 6)}] >> endobj`),
    ];
    // One linear pass each: a few megabytes in well under the timeout, where a quadratic one would take hours.
    const counts = hostile.map((bytes) => countPdfPages(bytes));
    expect(counts).toEqual([
      1,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      size / 6,
    ]);
  }, 30_000);
});
