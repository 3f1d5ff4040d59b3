/**
 * Counting the pages of a PDF from its bytes, for holds: no rendering, no recursion, one linear pass, and an answer
 * that is never below what a reader may find in the file (a hold must not under-count), or none at all.
 *
 * A reader finds the pages by walking the page tree (the catalog's `/Pages`, each node's `/Kids`), or trusts the root
 * node's `/Count` (pdf.js does), or, with a broken tree, collects the objects typed `/Page` (recovery). Every page of
 * a tree is one reference in some `/Kids` array, so the references of every `/Kids` array in the file (intermediate
 * nodes included) bound the pages of any tree built from it; the largest `/Count` of a `/Pages` node bounds what a
 * reader trusting it reports; the objects typed `/Page` bound what recovery finds. The count is the largest of the
 * three. An object the file defines again (an incremental update) counts once, at the most its definitions give, so
 * an edited file is not counted twice, and whichever definition the cross-reference table picks is covered.
 *
 * Undefined when the file does not show its pages in plain text: not a PDF, encrypted (`/Encrypt`), objects packed in
 * compressed object streams (`/ObjStm`), a `/Kids`, `/Count` or `/Type` given by reference or behind a comment,
 * a malformed `/Kids` array, or no page at all. Names are read with their `#xx` escapes decoded (`/P#61ge` is `/Page`).
 */
export function countPdfPages(pdf: Uint8Array): number | undefined {
  const text = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString('latin1');
  // Readers take a header anywhere in the first 1,024 bytes.
  const header = text.indexOf('%PDF-');
  if (header < 0 || header > 1_024) return undefined;

  const objects = new Map<string, { kids: number; count: number; page: boolean }>();
  // What lies outside any object (after a stray endobj, in a trailer) counts in full: it is not redefined.
  let looseKids = 0;
  let loosePages = 0;
  let looseCount = 0;
  // The object being read: its number, and what this definition of it holds so far.
  let key: string | undefined;
  let kids = 0;
  let count = 0;
  let pagesNode = false;
  let page = false;

  const commit = () => {
    if (key === undefined) {
      looseKids += kids;
      if (page) loosePages += 1;
      if (pagesNode) looseCount = Math.max(looseCount, count);
    } else {
      const seen = objects.get(key);
      const pagesCount = pagesNode ? count : 0;
      if (seen) {
        seen.kids = Math.max(seen.kids, kids);
        seen.count = Math.max(seen.count, pagesCount);
        seen.page ||= page;
      } else objects.set(key, { kids, count: pagesCount, page });
    }
    kids = 0;
    count = 0;
    pagesNode = false;
    page = false;
  };

  tokens.lastIndex = header;
  for (let match = tokens.exec(text); match !== null; match = tokens.exec(text)) {
    const [, rawName, objectNumber] = match;
    if (rawName === undefined) {
      // An object header or `endobj`: the definition read so far is complete.
      commit();
      key = objectNumber === undefined ? undefined : objectNumber.replace(/^0+(?=\d)/, '');
      continue;
    }
    const name = decodeName(rawName);
    if (name === 'Encrypt' || name === 'ObjStm') return undefined;
    const at = tokens.lastIndex;
    if (name === 'Kids') {
      const references = countReferences(text, at);
      if (references === undefined) return undefined;
      kids += references;
    } else if (name === 'Type') {
      const position = skipWhitespace(text, at);
      if (text.charCodeAt(position) === 0x25 /* % */) return undefined;
      nameAt.lastIndex = position;
      const value = nameAt.exec(text);
      referenceAt.lastIndex = position;
      if (!value && referenceAt.test(text)) return undefined;
      if (value) {
        const type = decodeName(value[1]!);
        if (type === 'Page') page = true;
        else if (type === 'Pages') pagesNode = true;
      }
    } else if (name === 'Count') {
      const value = readCount(text, at);
      if (value === undefined) return undefined;
      count = Math.max(count, value);
    }
  }
  commit();

  let treeReferences = looseKids;
  let typedPages = loosePages;
  let largestCount = looseCount;
  for (const object of objects.values()) {
    treeReferences += object.kids;
    if (object.page) typedPages += 1;
    largestCount = Math.max(largestCount, object.count);
  }
  const pages = Math.max(treeReferences, typedPages, largestCount);
  return pages > 0 ? pages : undefined;
}

/** A `/Count` past this is held as this: more pages than any provider takes. */
const countCeiling = 1_000_000_000;

/** PDF whitespace (NUL, tab, line feed, form feed, carriage return, space) and the characters a name stops at. */
const space = '[\\0\\t\\n\\f\\r ]';
const regular = '[^\\0\\t\\n\\f\\r ()<>\\[\\]{}/%]';

/**
 * The tokens the count reads, in one pass: a name it acts on (or any name with a `#` escape, which may decode to one),
 * an object header (`12 0 obj`, its number captured) or `endobj`. Other names are not matched at all, which keeps the
 * pass fast over compressed streams. The lookbehinds start a number only at its first digit and a keyword only after
 * a delimiter, which keeps it linear on any input (a run of digits is tried once, not once per digit).
 */
const tokens = new RegExp(
  `/((?:Kids|Type|Count|Encrypt|ObjStm|${regular}*#${regular}*)(?!${regular}))|(?<![0-9])([0-9]+)${space}+[0-9]+${space}+obj(?!${regular})|(?<!${regular})endobj(?!${regular})`,
  'g',
);
const nameAt = new RegExp(`/(${regular}*)`, 'y');
const referenceAt = new RegExp(`[0-9]+${space}+[0-9]+${space}+R(?!${regular})`, 'y');
const integerAt = new RegExp(`[+-]?[0-9]+(?!${regular})`, 'y');

/** A name as readers compare it: each `#xx` escape decoded. */
function decodeName(raw: string): string {
  if (!raw.includes('#')) return raw;
  return raw.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function isWhitespace(code: number): boolean {
  return code === 0 || code === 9 || code === 10 || code === 12 || code === 13 || code === 32;
}

function skipWhitespace(text: string, at: number): number {
  let position = at;
  while (position < text.length && isWhitespace(text.charCodeAt(position))) position += 1;
  return position;
}

/**
 * The references in the `/Kids` array that starts at `at`; undefined when it is not an array of references written
 * out there (given by reference, a comment or anything else inside, no closing bracket).
 */
function countReferences(text: string, at: number): number | undefined {
  let position = skipWhitespace(text, at);
  if (text.charCodeAt(position) !== 0x5b /* [ */) return undefined;
  position += 1;
  let references = 0;
  for (;;) {
    position = skipWhitespace(text, position);
    if (position >= text.length) return undefined;
    if (text.charCodeAt(position) === 0x5d /* ] */) return references;
    referenceAt.lastIndex = position;
    if (!referenceAt.test(text)) return undefined;
    position = referenceAt.lastIndex;
    references += 1;
  }
}

/**
 * The integer of the `/Count` at `at`, at most `countCeiling`; 0 for a value no reader takes as a count (a real
 * number, a name); undefined for one given by reference or behind a comment, which this pass cannot follow.
 */
function readCount(text: string, at: number): number | undefined {
  const position = skipWhitespace(text, at);
  if (text.charCodeAt(position) === 0x25 /* % */) return undefined;
  referenceAt.lastIndex = position;
  if (referenceAt.test(text)) return undefined;
  integerAt.lastIndex = position;
  const value = integerAt.exec(text);
  if (!value) return 0;
  const digits = value[0].replace(/^[+-]/, '').replace(/^0+(?=\d)/, '');
  if (value[0].startsWith('-')) return 0;
  return digits.length > 9 ? countCeiling : Math.min(Number(digits), countCeiling);
}
