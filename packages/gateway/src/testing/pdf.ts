import { randomBytes } from 'node:crypto';
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
 * A real PDF of `pages` pages with a form, as pdfkit writes it: on each page a field holding `fields` text fields (its
 * `/Kids`, the widgets on the page), a named destination and an outline entry. The field trees' `/Kids` are no pages.
 */
export async function makeFormPdf(pages: number, fields: number): Promise<Buffer> {
  const document = new PDFDocument({ autoFirstPage: false });
  const parts: Buffer[] = [];
  document.on('data', (part: Buffer) => parts.push(part));
  const ended = new Promise((resolve) => document.on('end', resolve));
  document.initForm();
  for (let page = 1; page <= pages; page += 1) {
    document.addPage().text(`Page ${page} of ${pages}`);
    document.addNamedDestination(`page-${page}`);
    document.outline.addItem(`Page ${page}`);
    const group = document.formField(`page-${page}`);
    for (let field = 0; field < fields; field += 1)
      document.formText(`field-${field}`, 72, 100 + 30 * field, 200, 20, { parent: group });
  }
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

/**
 * A PDF of `pages` pages laid out as pdfTeX lays out a book: a balanced page tree of inner nodes holding `fanout` kids
 * each (pdfTeX: 6), and a name tree of destinations (`/Dests`, one a page) whose root's `/Kids` are leaves of
 * `namesPerLeaf` names each. The pages, inner nodes and name-tree nodes all have `/Kids` or are in one. Plain objects
 * and a trailer, or with `perStream` packed in object streams of that many objects.
 */
export function makeBookPdf(
  pages: number,
  options: { fanout?: number; namesPerLeaf?: number; perStream?: number } = {},
): Buffer {
  const fanout = options.fanout ?? 6;
  const namesPerLeaf = options.namesPerLeaf ?? 4;
  const objects: Array<[number, string]> = [];
  let next = 4;
  const leaves = Array.from({ length: pages }, () => next++);
  // Inner nodes, level by level up to the root (object 2); each node's /Count is the pages below it.
  let level = leaves.map((number) => ({ number, count: 1 }));
  const parents = new Map<number, number>();
  while (level.length > fanout) {
    const up: Array<{ number: number; count: number }> = [];
    for (let first = 0; first < level.length; first += fanout) {
      const group = level.slice(first, first + fanout);
      const number = next++;
      for (const kid of group) parents.set(kid.number, number);
      const count = group.reduce((sum, kid) => sum + kid.count, 0);
      objects.push([
        number,
        `<< /Type /Pages /Kids [${group.map((kid) => `${kid.number} 0 R`).join(' ')}] /Count ${count} >>`,
      ]);
      up.push({ number, count });
    }
    level = up;
  }
  for (const kid of level) parents.set(kid.number, 2);
  objects.push([
    2,
    `<< /Type /Pages /Kids [${level.map((kid) => `${kid.number} 0 R`).join(' ')}] /Count ${pages} >>`,
  ]);
  for (const [index, number] of leaves.entries())
    objects.push([
      number,
      `<< /Type /Page /Parent ${parents.get(number)} 0 R /MediaBox [0 0 612 792] /Contents ${next + index} 0 R >>`,
    ]);
  const contents = leaves.map((_, index) => next + index);
  next += pages;
  const names = leaves.map(
    (number, index) => `(page.${String(index + 1).padStart(5, '0')}) [${number} 0 R /Fit]`,
  );
  const nameLeaves: number[] = [];
  for (let first = 0; first < names.length; first += namesPerLeaf) {
    const number = next++;
    const group = names.slice(first, first + namesPerLeaf);
    const limits = [group[0]!, group.at(-1)!].map((entry) => entry.slice(0, entry.indexOf(')') + 1));
    objects.push([number, `<< /Names [${group.join(' ')}] /Limits [${limits.join(' ')}] >>`]);
    nameLeaves.push(number);
  }
  const dests = next++;
  objects.push([dests, `<< /Kids [${nameLeaves.map((number) => `${number} 0 R`).join(' ')}] >>`]);
  objects.push([3, `<< /Dests ${dests} 0 R >>`]);
  objects.push([1, '<< /Type /Catalog /Pages 2 0 R /Names 3 0 R /PageMode /UseOutlines >>']);

  const parts: Buffer[] = [Buffer.from('%PDF-1.5\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  for (const [index, number] of contents.entries()) {
    const content = `BT /F1 10 Tf 72 720 Td (Page ${index + 1} of ${pages}) Tj ET`;
    parts.push(
      Buffer.from(
        `${number} 0 obj\n<< /Length ${content.length} >>\nstream\n${content}\nendstream\nendobj\n`,
      ),
    );
  }
  if (options.perStream === undefined)
    parts.push(Buffer.from(objects.map(([number, text]) => `${number} 0 obj\n${text}\nendobj\n`).join('')));
  else
    for (let first = 0; first < objects.length; first += options.perStream)
      parts.push(objectStream(next++, objects.slice(first, first + options.perStream)));
  parts.push(Buffer.from(`trailer\n<< /Size ${next} /Root 1 0 R >>\n%%EOF\n`, 'latin1'));
  return Buffer.concat(parts);
}

/**
 * A hostile PDF that costs a page count the most for its size: a catalog and one page, `streams` object streams that
 * each inflate to about `streamBytes` (deflated some thousand times smaller), and `padding` bytes of random data in
 * a stream of its own (as large a file as a budget that grows with the file needs). The streams hold `names` (one
 * object of `/P` after `/P`: a name every two bytes, each one looked at) or `objects` (empty objects, four bytes of
 * header each: the most objects a byte). Read in full, it has one page.
 */
export function makeInflatingPdf(options: {
  streams: number;
  streamBytes: number;
  fill: 'names' | 'objects';
  padding?: number;
}): Buffer {
  const { streams, streamBytes, fill } = options;
  const parts: Buffer[] = [
    Buffer.from(
      '%PDF-1.5\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n',
      'latin1',
    ),
  ];
  if (options.padding)
    parts.push(
      Buffer.from(`4 0 obj << /Length ${options.padding} >> stream\n`, 'latin1'),
      randomBytes(options.padding),
      Buffer.from('\nendstream endobj\n', 'latin1'),
    );
  let header: string;
  let body: string;
  let count: number;
  if (fill === 'names') {
    header = '5 0\n';
    body = `<<${'/P'.repeat(Math.max(0, Math.floor((streamBytes - header.length - 4) / 2)))}>>`;
    count = 1;
  } else {
    count = Math.max(1, Math.floor(streamBytes / 4));
    header = '5 0 '.repeat(count);
    body = '';
  }
  const data = deflateSync(Buffer.from(header + body, 'latin1'), { level: 9 });
  for (let stream = 0; stream < streams; stream += 1)
    parts.push(
      Buffer.from(
        `${10 + stream} 0 obj << /Type /ObjStm /N ${count} /First ${header.length} /Filter /FlateDecode /Length ${data.length} >> stream\n`,
        'latin1',
      ),
      data,
      Buffer.from('\nendstream endobj\n', 'latin1'),
    );
  parts.push(Buffer.from('trailer << /Root 1 0 R >>\n%%EOF\n', 'latin1'));
  return Buffer.concat(parts);
}
