import { deflateSync } from 'node:zlib';
import PDFDocument from 'pdfkit';

/** A real PDF of `pages` pages, a line of text on each, as pdfkit writes it (plain objects, no object streams). */
export async function makePdf(pages: number, options: PDFKit.PDFDocumentOptions = {}): Promise<Buffer> {
  const document = new PDFDocument({ autoFirstPage: false, ...options });
  const parts: Buffer[] = [];
  document.on('data', (part: Buffer) => parts.push(part));
  const ended = new Promise((resolve) => document.on('end', resolve));
  for (let page = 1; page <= pages; page += 1) document.addPage().text(`Page ${page} of ${pages}`);
  document.end();
  await ended;
  return Buffer.concat(parts);
}

/**
 * An object stream (`/Type /ObjStm`, PDF 1.5) holding `objects` (number, text), as an indirect object numbered
 * `number`: a header of number/offset pairs, then the objects, deflated unless `deflate` is false. `stream` replaces
 * the stream's bytes as written (a truncated or hostile payload) and `dictionary` sets entries of its dictionary over
 * the ones written (`/N`, `/First`, `/Length`, `/Filter`).
 */
export function objectStream(
  number: number,
  objects: ReadonlyArray<readonly [number, string]>,
  options: { deflate?: boolean; stream?: Buffer; dictionary?: Record<string, string> } = {},
): Buffer {
  let body = '';
  const pairs: string[] = [];
  for (const [objectNumber, text] of objects) {
    pairs.push(`${objectNumber} ${body.length}`);
    body += `${text}\n`;
  }
  const head = `${pairs.join(' ')}\n`;
  const plain = Buffer.from(head + body, 'latin1');
  const deflate = options.deflate ?? true;
  const data = options.stream ?? (deflate ? deflateSync(plain) : plain);
  const entries: Record<string, string> = {
    Type: '/ObjStm',
    N: `${objects.length}`,
    First: `${head.length}`,
    Length: `${data.length}`,
    ...(deflate ? { Filter: '/FlateDecode' } : {}),
    ...options.dictionary,
  };
  const dictionary = Object.entries(entries)
    .map(([key, value]) => `/${key} ${value}`)
    .join(' ');
  return Buffer.concat([
    Buffer.from(`${number} 0 obj\n<< ${dictionary} >>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream\nendobj\n', 'latin1'),
  ]);
}

/**
 * A cross-reference stream (PDF 1.5) for `size` objects, each at a file offset or inside an object stream; with
 * `previous` (an update's), it lists only the objects of `entries` (`/Index`) and points back at the one before.
 */
function crossReferenceStream(
  number: number,
  size: number,
  entries: ReadonlyMap<number, { offset: number } | { stream: number; index: number }>,
  root: number,
  previous?: number,
): Buffer {
  const listed =
    previous === undefined
      ? Array.from({ length: size }, (_, objectNumber) => objectNumber)
      : [...entries.keys()].sort((a, b) => a - b);
  const rows = Buffer.alloc(listed.length * 7);
  for (const [position, objectNumber] of listed.entries()) {
    const entry = entries.get(objectNumber);
    const row = position * 7;
    if (entry === undefined) {
      rows.writeUInt8(0, row);
      rows.writeUInt16BE(objectNumber === 0 ? 65_535 : 0, row + 5);
    } else if ('offset' in entry) {
      rows.writeUInt8(1, row);
      rows.writeUInt32BE(entry.offset, row + 1);
    } else {
      rows.writeUInt8(2, row);
      rows.writeUInt32BE(entry.stream, row + 1);
      rows.writeUInt16BE(entry.index, row + 5);
    }
  }
  const data = deflateSync(rows);
  const prev =
    previous === undefined
      ? ''
      : ` /Prev ${previous} /Index [${listed.map((objectNumber) => `${objectNumber} 1`).join(' ')}]`;
  return Buffer.concat([
    Buffer.from(
      `${number} 0 obj\n<< /Type /XRef /Size ${size} /Root ${root} 0 R /W [1 4 2] /Filter /FlateDecode /Length ${data.length}${prev} >>\nstream\n`,
      'latin1',
    ),
    data,
    Buffer.from('\nendstream\nendobj\n', 'latin1'),
  ]);
}

/**
 * A PDF of `pages` pages as modern writers lay it out (PDF 1.5): the catalog, the page tree, the pages and the font
 * packed in deflated object streams of at most `perStream` objects, each page's content in a stream of its own, and a
 * cross-reference stream in place of the `xref` table and `trailer`. `update` appends an incremental update that
 * defines the given objects again in an object stream of its own, with its cross-reference stream (`/Prev`).
 */
export function makeObjectStreamPdf(
  pages: number,
  options: { perStream?: number; update?: ReadonlyArray<readonly [number, string]> } = {},
): Buffer {
  const perStream = options.perStream ?? 100;
  const font = 3 + 2 * pages;
  const packed: Array<readonly [number, string]> = [
    [1, '<< /Type /Catalog /Pages 2 0 R >>'],
    [
      2,
      `<< /Type /Pages /Kids [${Array.from({ length: pages }, (_, page) => `${3 + 2 * page} 0 R`).join(' ')}] /Count ${pages} >>`,
    ],
  ];
  const parts: Buffer[] = [Buffer.from('%PDF-1.5\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0]!.length;
  const entries = new Map<number, { offset: number } | { stream: number; index: number }>();
  const write = (bytes: Buffer) => {
    parts.push(bytes);
    length += bytes.length;
  };
  for (let page = 0; page < pages; page += 1) {
    const number = 3 + 2 * page;
    packed.push([
      number,
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${number + 1} 0 R >>`,
    ]);
    const content = Buffer.from(`BT /F1 12 Tf 72 720 Td (Page ${page + 1} of ${pages}) Tj ET`, 'latin1');
    entries.set(number + 1, { offset: length });
    write(
      Buffer.concat([
        Buffer.from(`${number + 1} 0 obj\n<< /Length ${content.length} >>\nstream\n`, 'latin1'),
        content,
        Buffer.from('\nendstream\nendobj\n', 'latin1'),
      ]),
    );
  }
  packed.push([font, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>']);
  let next = font + 1;
  for (let first = 0; first < packed.length; first += perStream) {
    const objects = packed.slice(first, first + perStream);
    const number = next++;
    for (const [index, [objectNumber]] of objects.entries())
      entries.set(objectNumber, { stream: number, index });
    entries.set(number, { offset: length });
    write(objectStream(number, objects));
  }
  let crossReference = length;
  entries.set(next, { offset: length });
  write(crossReferenceStream(next, next + 1, entries, 1));
  let size = next + 1;
  write(Buffer.from(`startxref\n${crossReference}\n%%EOF\n`, 'latin1'));

  if (options.update) {
    const updated = new Map<number, { offset: number } | { stream: number; index: number }>();
    const stream = size;
    for (const [index, [objectNumber]] of options.update.entries())
      updated.set(objectNumber, { stream, index });
    updated.set(stream, { offset: length });
    write(objectStream(stream, options.update));
    const previous = crossReference;
    crossReference = length;
    updated.set(stream + 1, { offset: length });
    size = stream + 2;
    write(crossReferenceStream(stream + 1, size, updated, 1, previous));
    write(Buffer.from(`startxref\n${crossReference}\n%%EOF\n`, 'latin1'));
  }
  return Buffer.concat(parts);
}
