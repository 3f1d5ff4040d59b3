/**
 * What counting the pages of an inline PDF costs a hold: the event loop is blocked for the whole of
 * `classifyMediaPart(url, { countPages: true })`, which decodes the base64 and runs `countPdfPages` on the bytes.
 * Prints a table of medians (and the slowest run) per layout; it asserts nothing.
 *
 *   npm run pdf:bench
 *
 * BENCH_MB (default 75) sizes each real layout's file, BENCH_ROUNDS (default 7) the runs per layout. Layouts:
 *  - images, plain objects: a few hundred pages, each with a deflated image (binary data, what scans and slides are);
 *  - images, object streams: the same with the page dictionaries packed in object streams (PDF 1.5);
 *  - text, plain streams: tens of thousands of pages whose content streams are stored unfiltered (names and text
 *    everywhere: the most the scan has to look at per byte);
 *  - hostile, names: 3.6 MB (3.5 MB of random padding) whose 8 object streams inflate to 64 MiB of `/P/P/P…`, a name
 *    every two bytes (`makeInflatingPdf`): the work a small file can make the count do;
 *  - hostile, objects: 3.6 MB whose 16 object streams hold a million empty objects, four bytes of header each.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { makeInflatingPdf, objectStream } from '../testing/pdf.js';
import { classifyMediaPart, decodeBase64 } from './media-part.js';
import { countPdfPages } from './pdf-pages.js';

const megabytes = Number(process.env.BENCH_MB ?? 75);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const target = megabytes * 1024 * 1024;

/** A page tree of `pages` leaves numbered from 3 (two objects a page: the page, its image or content). */
function pageTree(pages: number): Array<readonly [number, string]> {
  const kids = Array.from({ length: pages }, (_, page) => `${3 + 2 * page} 0 R`).join(' ');
  return [
    [1, '<< /Type /Catalog /Pages 2 0 R >>'],
    [2, `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`],
  ];
}

function stream(number: number, dictionary: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`${number} 0 obj\n<< ${dictionary} /Length ${data.length} >>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream\nendobj\n', 'latin1'),
  ]);
}

function plain(objects: ReadonlyArray<readonly [number, string]>): Buffer {
  return Buffer.from(
    objects.map(([number, text]) => `${number} 0 obj\n${text}\nendobj\n`).join(''),
    'latin1',
  );
}

/** Pages of ~250 KB deflated noise each, as an image; the page dictionaries plain or in object streams of 100. */
function images(packed: boolean): Buffer {
  const image = deflateSync(randomBytes(250_000));
  const pages = Math.max(1, Math.round(target / image.length));
  const dictionaries: Array<readonly [number, string]> = [...pageTree(pages)];
  const parts: Buffer[] = [Buffer.from('%PDF-1.5\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  for (let page = 0; page < pages; page += 1) {
    const number = 3 + 2 * page;
    dictionaries.push([
      number,
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 ${number + 1} 0 R >> >> >>`,
    ]);
    parts.push(
      stream(
        number + 1,
        '/Type /XObject /Subtype /Image /Width 500 /Height 500 /BitsPerComponent 8 /ColorSpace /DeviceGray /Filter /FlateDecode',
        image,
      ),
    );
  }
  if (packed) {
    for (let first = 0; first < dictionaries.length; first += 100)
      parts.push(objectStream(3 + 2 * pages + first, dictionaries.slice(first, first + 100)));
  } else parts.push(plain(dictionaries));
  parts.push(Buffer.from('trailer << /Root 1 0 R >>\n%%EOF\n', 'latin1'));
  return Buffer.concat(parts);
}

/** Pages whose content streams are stored as text: font changes, positioning and shown strings. */
function text(): Buffer {
  const line =
    '/F1 11 Tf 72 700 Td (The quick brown fox jumps over the lazy dog, again and again.) Tj /GS1 gs\n';
  const content = Buffer.from(`BT\n${line.repeat(40)}ET`, 'latin1');
  const pages = Math.max(1, Math.round(target / (content.length + 200)));
  const objects: Array<readonly [number, string]> = [...pageTree(pages)];
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')];
  for (let page = 0; page < pages; page += 1) {
    const number = 3 + 2 * page;
    objects.push([
      number,
      `<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 9 0 R >> >> /Contents ${number + 1} 0 R >>`,
    ]);
    parts.push(stream(number + 1, '', content));
  }
  parts.push(plain(objects), Buffer.from('trailer << /Root 1 0 R >>\n%%EOF\n', 'latin1'));
  return Buffer.concat(parts);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const milliseconds = (value: number) => Math.round(value * 10) / 10;

const mebibyte = 1024 * 1024;
const layouts: Array<[string, () => Buffer]> = [
  ['images, plain objects', () => images(false)],
  ['images, object streams', () => images(true)],
  ['text, plain streams', text],
  [
    'hostile, names',
    () =>
      makeInflatingPdf({ streams: 8, streamBytes: 8 * mebibyte - 4_096, fill: 'names', padding: 3_500_000 }),
  ],
  [
    'hostile, objects',
    () => makeInflatingPdf({ streams: 16, streamBytes: 256 * 1024, fill: 'objects', padding: 3_500_000 }),
  ],
];
const rows = [];
for (const [layout, make] of layouts) {
  const pdf = make();
  const url = `data:application/pdf;base64,${pdf.toString('base64')}`;
  const decode: number[] = [];
  const count: number[] = [];
  const hold: number[] = [];
  let pages: number | undefined;
  for (let round = 0; round < rounds; round += 1) {
    let started = performance.now();
    const bytes = decodeBase64(url, url.indexOf(',') + 1);
    decode.push(performance.now() - started);
    started = performance.now();
    pages = countPdfPages(bytes);
    count.push(performance.now() - started);
    started = performance.now();
    classifyMediaPart(url, { countPages: true });
    hold.push(performance.now() - started);
  }
  rows.push({
    layout,
    MB: Math.round((pdf.length / 1024 / 1024) * 10) / 10,
    pages: pages ?? 'not counted',
    'base64 decode ms': milliseconds(median(decode)),
    'countPdfPages ms': milliseconds(median(count)),
    'countPdfPages max ms': milliseconds(Math.max(...count)),
    'classify (blocked) ms': milliseconds(median(hold)),
  });
}
console.log(`node ${process.version}, ${rounds} rounds, medians`);
console.table(rows);
