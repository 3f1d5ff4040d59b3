import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  makeBookPdf,
  makeFormPdf,
  makeInflatingPdf,
  makeObjectStreamPdf,
  makePdf,
  objectStream,
} from '../testing/pdf.js';
import { classifyMediaPart } from './media-part.js';
import {
  bytesPerPackedObject,
  countPdfPages,
  inflatedBytesPerByte,
  maxCountedObjects,
  maxInflatedBytes,
  maxObjectStreamBytes,
  maxObjectStreams,
  maxTreeDepth,
  maxTreeReferences,
} from './pdf-pages.js';

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

/** `body` as a PDF whose trailer names object 1 as its catalog. */
const rooted = (body: string) => pdf(`${body}\ntrailer << /Size 99 /Root 1 0 R >>`);

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
    // Objects packed in an object stream that does not inflate.
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

  it('counts the pages of PDFs whose objects are packed in object streams, with cross-reference streams', async () => {
    // One stream, several (three objects each), a large tree.
    expect(countPdfPages(makeObjectStreamPdf(1))).toBe(1);
    expect(countPdfPages(makeObjectStreamPdf(7, { perStream: 3 }))).toBe(7);
    expect(countPdfPages(makeObjectStreamPdf(250))).toBe(250);
    // As qpdf 11.3 (--object-streams=generate --linearize) rewrote a 12-page pdfkit file: hint stream, two
    // cross-reference streams, the first page's objects in a stream of their own.
    const qpdf = readFileSync(new URL('./__fixtures__/qpdf-object-streams-12-pages.pdf', import.meta.url));
    expect(countPdfPages(qpdf)).toBe(12);
    // An object stream stored without a filter, beside a plain catalog.
    const stored = Buffer.concat([
      Buffer.from('%PDF-1.5\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'),
      objectStream(
        9,
        [
          [2, '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>'],
          [3, '<</Type/Page>>'],
          [4, '<<>>'],
        ],
        {
          deflate: false,
        },
      ),
      Buffer.from('%%EOF\n'),
    ]);
    expect(countPdfPages(stored)).toBe(2);
    // Through the hold's path: the data URL of such a file.
    const url = `data:application/pdf;base64,${makeObjectStreamPdf(5, { perStream: 2 }).toString('base64')}`;
    expect(classifyMediaPart(url, { countPages: true }).pages).toBe(5);
  });

  it('counts a page tree an update packs in a new object stream at the most of its definitions', () => {
    // Readers take the update's tree (qpdf reports 2 pages); one recovering a damaged file may take the first (3).
    const shrunk = makeObjectStreamPdf(3, {
      update: [[2, '<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>']],
    });
    expect(countPdfPages(shrunk)).toBe(3);
    const grown = makeObjectStreamPdf(3, {
      update: [
        [2, '<< /Type /Pages /Kids [3 0 R 5 0 R 7 0 R 40 0 R] /Count 4 >>'],
        [40, '<< /Type /Page /Parent 2 0 R >>'],
      ],
    });
    expect(countPdfPages(grown)).toBe(4);
  });

  it('gives no count for an object stream it cannot read in full', () => {
    const file = (...parts: Buffer[]) =>
      Buffer.concat([Buffer.from('%PDF-1.5\n'), ...parts, Buffer.from('%%EOF\n')]);
    const objects = [
      [2, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>'],
      [3, '<< /Type /Page /Parent 2 0 R >>'],
    ] as const;
    expect(countPdfPages(file(objectStream(9, objects)))).toBe(1);
    const deflated = deflateSync(Buffer.from('2 0 3 44\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\n'));
    // Truncated: cut short (with or without its /Length saying so), or no endstream before the file ends.
    const cut = deflated.subarray(0, deflated.length - 5);
    expect(countPdfPages(file(objectStream(9, objects, { stream: cut })))).toBeUndefined();
    expect(countPdfPages(file(objectStream(9, objects).subarray(0, 60)))).toBeUndefined();
    // Corrupt data, another filter, a predictor, a chain of filters.
    expect(
      countPdfPages(file(objectStream(9, objects, { stream: Buffer.from('not deflate') }))),
    ).toBeUndefined();
    for (const dictionary of <Array<Record<string, string>>>[
      { Filter: '/LZWDecode' },
      { DecodeParms: '<< /Predictor 12 /Columns 5 >>' },
      { Filter: '[/FlateDecode /ASCIIHexDecode]' },
      // A key given twice, which readers may take either way.
      { Filter: '/FlateDecode /Filter /LZWDecode' },
    ])
      expect(countPdfPages(file(objectStream(9, objects, { dictionary })))).toBeUndefined();
    // A header that does not match its /N or /First, offsets past the end or going back.
    const header = (text: string, first: number, count = 2) =>
      file(
        Buffer.from(
          `9 0 obj << /Type /ObjStm /N ${count} /First ${first} /Length ${text.length} >> stream\n${text}\nendstream endobj\n`,
        ),
      );
    const body = '<< /Type /Pages /Kids [3 0 R] /Count 1 >> << /Type /Page >>';
    expect(countPdfPages(header(`2 0 3 42 ${body}`, 9))).toBe(1);
    expect(countPdfPages(header(`2 0 3 42 ${body}`, 9, 3))).toBeUndefined();
    expect(countPdfPages(header(`2 0 3 42 ${body}`, 9, 1))).toBeUndefined();
    expect(countPdfPages(header(`2 0 3 900 ${body}`, 10))).toBeUndefined();
    expect(countPdfPages(header(`2 43 3 0 ${body}`, 9))).toBeUndefined();
    expect(countPdfPages(header(`2 0 3 42 ${body}`, 9000))).toBeUndefined();
    // An object stream inside one, or one not in an object of its own; two that overlap.
    expect(countPdfPages(file(objectStream(9, [...objects, [4, '<< /Type /ObjStm /N 0 /First 0 >>']])))).toBe(
      undefined,
    );
    expect(
      countPdfPages(file(Buffer.from('<< /Type /ObjStm >>\n'), objectStream(9, objects))),
    ).toBeUndefined();
    // (A /Length given by reference reads up to the endstream; one stream stored in another's data overlaps it.)
    const indirectLength = objectStream(9, objects, { dictionary: { Length: '10 0 R' } });
    expect(countPdfPages(file(indirectLength))).toBe(1);
    const inner = objectStream(10, objects, { deflate: false });
    expect(
      countPdfPages(
        file(
          Buffer.from(
            `8 0 obj << /Type /ObjStm /N 0 /First 0 >> stream\n${inner.toString('latin1')}endstream\n`,
          ),
        ),
      ),
    ).toBeUndefined();
  });

  it('stops at its caps: zip bombs, too many object streams, too many page objects', () => {
    const file = (...parts: Buffer[]) =>
      Buffer.concat([Buffer.from('%PDF-1.5\n'), ...parts, Buffer.from('%%EOF\n')]);
    const page = (number: number, padding: number) => {
      const text = `${number} 0\n<< /Type /Page >>`;
      return Buffer.concat([Buffer.from(text), Buffer.alloc(padding, 0x20)]);
    };
    const stream = (number: number, plain: Buffer) =>
      objectStream(number, [[number + 1000, '']], { stream: deflateSync(plain), dictionary: { First: '4' } });
    // Incompressible bytes in a stream of their own: a file as large as its object streams may need.
    const padding = (bytes: number) =>
      Buffer.concat([
        Buffer.from(`1 0 obj << /Length ${bytes} >> stream\n`),
        randomBytes(bytes),
        Buffer.from('\nendstream endobj\n'),
      ]);
    // A stream of 32 MiB of zeros deflated to 32 KiB is refused: the inflate stops at the per-stream cap.
    const bomb = deflateSync(Buffer.alloc(maxObjectStreamBytes * 4), { level: 9 });
    expect(
      countPdfPages(file(padding(4_000_000), objectStream(9, [[3, '']], { stream: bomb }))),
    ).toBeUndefined();
    // Just under the per-stream cap reads; streams that together pass the total cap do not, however large the file.
    const large = maxObjectStreamBytes - 1_024;
    const enough = padding(maxInflatedBytes / inflatedBytesPerByte + 100_000);
    expect(countPdfPages(file(enough, stream(9, page(9, large))))).toBe(1);
    const under = Math.floor(maxInflatedBytes / large);
    const many = (count: number) =>
      file(
        enough,
        ...Array.from({ length: count }, (_, index) => stream(10 + index, page(10 + index, large))),
      );
    expect(countPdfPages(many(under))).toBe(under);
    expect(countPdfPages(many(under + 1))).toBeUndefined();
    // More object streams than a file may have.
    const tiny = (count: number) =>
      file(...Array.from({ length: count }, (_, index) => stream(index + 1, page(index + 1, 0))));
    expect(countPdfPages(tiny(100))).toBe(100);
    expect(countPdfPages(tiny(maxObjectStreams + 1))).toBeUndefined();
    // More objects typed /Page than the count keeps apart (far more pages than any provider takes).
    const pages = (count: number) =>
      file(
        Buffer.from(
          Array.from({ length: count }, (_, index) => `${index + 1} 0 obj<</Type/Page>>endobj\n`).join(''),
        ),
      );
    expect(countPdfPages(pages(maxCountedObjects))).toBe(maxCountedObjects);
    expect(countPdfPages(pages(maxCountedObjects + 1))).toBeUndefined();
  }, 60_000);

  it('inflates object streams to a few times the file at most: a small file cannot make the count scan much more', () => {
    // A 3.6 MB file whose 8 object streams inflate to 64 MiB of names, each one looked at: it blocked the event loop
    // for seconds (one page, the count gave at the end). Now it is refused once the streams pass ten times the file.
    const hostile = makeInflatingPdf({
      streams: 8,
      streamBytes: maxObjectStreamBytes - 4_096,
      fill: 'names',
      padding: 3_500_000,
    });
    expect(countPdfPages(hostile)).toBeUndefined();
    // The same streams inflate in a file as large as they need (a tenth of what they inflate to), and no further.
    const stream = 1_024 * 1_024;
    const sized = (padding: number) =>
      makeInflatingPdf({ streams: 1, streamBytes: stream, fill: 'names', padding });
    expect(countPdfPages(sized(Math.ceil(stream / inflatedBytesPerByte)))).toBe(1);
    expect(countPdfPages(sized(Math.floor((stream * 0.9) / inflatedBytesPerByte)))).toBeUndefined();
    // Objects are counted against the file too (one per `bytesPerPackedObject` bytes of it): empty ones cost their
    // scan and a header pair of four bytes each.
    const objects = 10_000;
    const packed = (padding: number) =>
      makeInflatingPdf({ streams: 1, streamBytes: objects * 4, fill: 'objects', padding });
    expect(countPdfPages(packed(objects * bytesPerPackedObject))).toBe(1);
    expect(countPdfPages(packed(Math.floor(objects * bytesPerPackedObject * 0.9)))).toBeUndefined();
    // Through the hold's path: the whole-document bound, as for any file whose pages cannot be counted.
    const url = `data:application/pdf;base64,${hostile.toString('base64')}`;
    expect(classifyMediaPart(url, { countPages: true })).toMatchObject({
      kind: 'document',
      pages: undefined,
    });
  });

  it('follows no reference: looping, self-referencing and deep page trees in object streams end', () => {
    const file = (...parts: Buffer[]) =>
      Buffer.concat([Buffer.from('%PDF-1.5\n'), ...parts, Buffer.from('%%EOF\n')]);
    const looping = objectStream(9, [
      [2, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>'],
      [3, '<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>'],
    ]);
    expect(countPdfPages(file(looping))).toBe(3);
    // A chain of 50,000 nodes, each the only kid of the one before: read in one pass, no recursion. (Stored: the
    // nodes alone deflate past ten times smaller, more than a file's object streams may inflate to.)
    const depth = 50_000;
    const chain = objectStream(
      depth + 10,
      Array.from(
        { length: depth },
        (_, index) => [index + 1, `<< /Type /Pages /Kids [${index + 2} 0 R] /Count 1 >>`] as const,
      ),
      { deflate: false },
    );
    expect(countPdfPages(file(chain))).toBe(depth);
    // A huge /Count inside a stream holds at the ceiling, as one outside does.
    expect(
      countPdfPages(file(objectStream(9, [[2, `<< /Type /Pages /Kids [] /Count ${'9'.repeat(400)} >>`]]))),
    ).toBe(1_000_000_000);
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

  describe('follows the page tree from the catalog', () => {
    it('counts the pages, not the other /Kids: name trees, form fields, inner nodes of the page tree', async () => {
      // pdfTeX's layout: inner nodes of 6 kids, a /Dests name tree whose root has /Kids (what qpdf reports).
      expect(countPdfPages(makeBookPdf(36))).toBe(36);
      expect(countPdfPages(makeBookPdf(17, { namesPerLeaf: 1 }))).toBe(17);
      expect(countPdfPages(makeBookPdf(1))).toBe(1);
      expect(countPdfPages(makeBookPdf(1_000, { fanout: 3 }))).toBe(1_000);
      // The same packed in object streams.
      expect(countPdfPages(makeBookPdf(36, { perStream: 10 }))).toBe(36);
      expect(countPdfPages(makeBookPdf(200, { perStream: 100 }))).toBe(200);
      // pdfkit's form fields, each a field whose /Kids are its widgets, beside named destinations and outlines.
      expect(countPdfPages(await makeFormPdf(3, 4))).toBe(3);
      expect(countPdfPages(await makeFormPdf(1, 30))).toBe(1);
      // That file (5 pages, 3 fields each) as qpdf 11 rewrote it with object streams (--object-streams=generate).
      const form = readFileSync(new URL('./__fixtures__/qpdf-form-fields-5-pages.pdf', import.meta.url));
      expect(countPdfPages(form)).toBe(5);
      // Chromium 156 (Skia) printing 14 pages with internal links: a root over two inner nodes of 8 and 6 pages.
      const chromium = readFileSync(new URL('./__fixtures__/chromium-skia-14-pages.pdf', import.meta.url));
      expect(countPdfPages(chromium)).toBe(14);
    });

    it('counts pages no tree reaches and a /Count above the tree, as readers may find them', () => {
      // Objects typed /Page outside the tree (a reader recovering a broken file collects them).
      const stray = '30 0 obj << /Type /Page >> endobj\n31 0 obj << /Type /Page /Parent 2 0 R >> endobj';
      expect(countPdfPages(rooted(`${tree(3)}\n${stray}`))).toBe(5);
      // A /Count above the tree (pdf.js and pypdf trust the root's), one on an inner node, one below.
      expect(countPdfPages(rooted(tree(3, 9)))).toBe(9);
      expect(countPdfPages(rooted(tree(3, 1)))).toBe(3);
      // A second tree no catalog names, which a reader repairing the file may take for the root.
      const orphan = [
        '40 0 obj << /Type /Pages /Kids [41 0 R 42 0 R 43 0 R 44 0 R] >> endobj',
        '41 0 obj << >> endobj 42 0 obj << >> endobj 43 0 obj << >> endobj 44 0 obj << >> endobj',
      ].join('\n');
      expect(countPdfPages(rooted(`${tree(2)}\n${orphan}`))).toBe(4);
    });

    it('counts the kids a lenient reader takes for pages: untyped ones, undefined ones, a node reached twice', () => {
      const file = (...objects: string[]) =>
        rooted(['1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj', ...objects].join('\n'));
      // Leaves without /Type (PDFium and pdf.js take a node without /Kids for a page), and inner nodes without it.
      expect(
        countPdfPages(
          file(
            '2 0 obj << /Kids [3 0 R 4 0 R] >> endobj',
            '3 0 obj << /Kids [5 0 R 6 0 R 7 0 R] >> endobj',
            '4 0 obj << /Contents 9 0 R >> endobj',
            '5 0 obj << >> endobj 6 0 obj << >> endobj 7 0 obj << >> endobj',
          ),
        ),
      ).toBe(4);
      // Kids the file never defines: a page each, rather than none.
      expect(
        countPdfPages(
          file(
            '2 0 obj << /Type /Pages /Kids [3 0 R 50 0 R 51 0 R] >> endobj',
            '3 0 obj << /Type /Page >> endobj',
          ),
        ),
      ).toBe(3);
      // A /Page with /Kids (pdf.js: one page; PDFium: the pages below it), an empty inner node (a page to some).
      expect(
        countPdfPages(
          file(
            '2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] >> endobj',
            '3 0 obj << /Type /Page /Kids [5 0 R 6 0 R] >> endobj',
            '4 0 obj << /Type /Pages /Kids [] >> endobj',
          ),
        ),
      ).toBe(3);
      // An inner node that two parents name: its pages count under each.
      expect(
        countPdfPages(
          file(
            '2 0 obj << /Type /Pages /Kids [3 0 R 3 0 R 4 0 R] >> endobj',
            '3 0 obj << /Type /Pages /Kids [5 0 R 6 0 R] >> endobj',
            '4 0 obj << /Type /Page >> endobj 5 0 obj << /Type /Page >> endobj 6 0 obj << /Type /Page >> endobj',
          ),
        ),
      ).toBe(5);
    });

    it('counts each object an incremental update defines again at the most of its definitions', async () => {
      const book = makeBookPdf(12);
      // The update drops the tree to one page, adds a name tree with /Kids and an AcroForm field tree.
      const update = [
        '2 0 obj << /Type /Pages /Kids [4 0 R] /Count 1 >> endobj',
        '90 0 obj << /Kids [91 0 R 92 0 R 93 0 R] >> endobj',
        '1 0 obj << /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [94 0 R] >> >> endobj',
        '94 0 obj << /T (group) /Kids [95 0 R 96 0 R 97 0 R 98 0 R 99 0 R] >> endobj',
        'trailer << /Root 1 0 R /Prev 0 >>\n%%EOF\n',
      ].join('\n');
      expect(countPdfPages(Buffer.concat([book, Buffer.from(update)]))).toBe(12);
      // One that grows it, in an object stream of its own: the 14 pages of the new tree.
      const grown = makeObjectStreamPdf(12, {
        update: [
          [
            2,
            `<< /Type /Pages /Kids [${Array.from({ length: 12 }, (_, page) => `${3 + 2 * page} 0 R`).join(' ')} 80 0 R] /Count 14 >>`,
          ],
          [80, '<< /Type /Pages /Kids [81 0 R 82 0 R] /Count 2 >>'],
          [81, '<< /Type /Page >>'],
          [82, '<< /Type /Page >>'],
          [83, '<< /Kids [84 0 R 85 0 R 86 0 R 87 0 R] >>'],
        ],
      });
      expect(countPdfPages(grown)).toBe(14);
      // pdfkit's form file with a page added by an update: the tree's new definition, once.
      const form = await makeFormPdf(2, 3);
      const pagesNode = /(\d+) 0 obj\s*<<\s*\/Type \/Pages/.exec(form.toString('latin1'))![1];
      const kids = /\/Type \/Pages\s*\/Count 2\s*\/Kids \[([^\]]*)\]/.exec(form.toString('latin1'))![1];
      const added = Buffer.from(
        `\n${pagesNode} 0 obj << /Type /Pages /Count 3 /Kids [${kids} 70 0 R] >> endobj\n70 0 obj << /Type /Page /Parent ${pagesNode} 0 R >> endobj\n%%EOF\n`,
      );
      expect(countPdfPages(Buffer.concat([form, added]))).toBe(3);
    });

    it('bounds the tree by every /Kids reference when the walk is in doubt', () => {
      const names =
        '7020 0 obj << /Kids [7021 0 R 7022 0 R 7023 0 R 7024 0 R 7025 0 R 7026 0 R 7027 0 R] >> endobj';
      // Walked: the tree's 2 pages. The name tree's 7 /Kids count only when the tree cannot be followed.
      expect(countPdfPages(rooted(`${tree(2)}\n${names}`))).toBe(2);
      const doubtful = [
        // No trailer nor catalog naming a tree.
        pdf(`${tree(2).replace('/Type /Catalog', '')}\n${names}`),
        // The catalog's tree is not in the file, or is given in place (its /Kids count too), or behind a comment.
        rooted(`${tree(2).replace('/Pages 2 0 R', '/Pages 60 0 R')}\n${names}`),
        rooted(`${tree(2).replace('/Pages 2 0 R', '/Pages << /Kids [3 0 R 4 0 R] >>')}\n${names}`),
        rooted(`${tree(2).replace('/Pages 2 0 R', '/Pages %c\n2 0 R')}\n${names}`),
        // A cycle: readers refuse it or cut it where they please.
        rooted(`${tree(2).replace('/Kids [3 0 R 4 0 R]', '/Kids [3 0 R 4 0 R 2 0 R]')}\n${names}`),
        // A /Kids outside any object (after a stray endobj), an object whose endobj is missing.
        rooted(`${tree(2)}\nendobj /Kids [3 0 R 4 0 R 5 0 R 6 0 R 7 0 R 8 0 R 9 0 R]`),
        rooted(`${tree(2).replace(/endobj\n3 0 obj/, '\n3 0 obj')}\n${names}`),
      ];
      expect(doubtful.map((bytes) => countPdfPages(bytes))).toEqual([9, 9, 11, 9, 10, 9, 9]);
      // A tree past the depth the walk follows: a chain of single kids under the catalog.
      const chain = (depth: number) =>
        rooted(
          [
            '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
            ...Array.from(
              { length: depth },
              (_, index) => `${index + 2} 0 obj << /Type /Pages /Kids [${index + 3} 0 R] >> endobj`,
            ),
            `${depth + 2} 0 obj << /Type /Page >> endobj`,
            names,
          ].join('\n'),
        );
      expect(countPdfPages(chain(maxTreeDepth - 1))).toBe(1);
      expect(countPdfPages(chain(maxTreeDepth + 1))).toBe(maxTreeDepth + 1 + 7);
      // More /Kids references than the walk keeps (the same page named again and again): the bound, past them.
      const wide = (kids: number) =>
        rooted(
          [
            '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
            `2 0 obj << /Type /Pages /Kids [${'3 0 R '.repeat(kids)}] >> endobj`,
            '3 0 obj << /Type /Page >> endobj',
            names,
          ].join('\n'),
        );
      // (They count the name tree's 7 too.)
      expect(countPdfPages(wide(maxTreeReferences - 7))).toBe(maxTreeReferences - 7);
      expect(countPdfPages(wide(maxTreeReferences - 6))).toBe(maxTreeReferences - 6 + 7);
    });

    it('gives no count when an object of an object stream runs past its bytes', () => {
      const file = (...parts: Buffer[]) =>
        Buffer.concat([
          Buffer.from('%PDF-1.5\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'),
          ...parts,
          Buffer.from('trailer << /Root 1 0 R >>\n%%EOF\n'),
        ]);
      const objects: Array<[number, string]> = [
        [2, '<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>'],
        [3, '<< /Type /Page >>'],
        [4, '<< /Type /Page >>'],
        [5, '<< /Type /Page >>'],
        [20, '<< /Kids [21 0 R 22 0 R 23 0 R 24 0 R] >>'],
      ];
      expect(countPdfPages(file(objectStream(9, objects)))).toBe(3);
      // The header puts object 3 in the middle of the tree's root (object 2), cutting its /Kids in two: a reader
      // reads object 2 on past it, and sees the 3 pages no object here holds.
      const stream = (objects: ReadonlyArray<readonly [number, string]>, cut = 0) => {
        const body = objects.map(([, text]) => text).join(' ');
        let offset = 0;
        const pairs = objects.map(([number, text], index) => {
          const pair = `${number} ${offset - (index === 1 ? cut : 0)}`;
          offset += text.length + 1;
          return pair;
        });
        const header = `${pairs.join(' ')} `;
        return Buffer.from(
          `9 0 obj << /Type /ObjStm /N ${objects.length} /First ${header.length} /Length ${header.length + body.length} >> stream\n${header}${body}\nendstream endobj\n`,
        );
      };
      const root = '<< /Type /Pages /Count 1 /Kids [3 0 R 4 0 R 5 0 R] >>';
      const rest = [
        [3, '<< /Type /Page >>'],
        [20, '<< /Kids [21 0 R 22 0 R] >>'],
      ] as const;
      expect(countPdfPages(file(stream([[2, root], ...rest])))).toBe(3);
      const cut = root.length - root.indexOf('/Kids') - 1;
      expect(countPdfPages(file(stream([[2, root], ...rest], cut)))).toBeUndefined();
      expect(countPdfPages(file(stream([[2, root], ...rest], cut + 1)))).toBeUndefined();
      // (Balanced, with strings and comments holding delimiters, it is followed.)
      const quoted = '<< /Type /Pages /T (a \\) >> [ \\( ) /S (x (y) z) /Kids [3 0 R 4 0 R 5 0 R] % ] >\n>>';
      expect(countPdfPages(file(stream([[2, quoted], ...rest])))).toBe(3);
    });
  });
});
