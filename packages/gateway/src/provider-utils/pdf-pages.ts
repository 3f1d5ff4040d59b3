import { inflateSync } from 'node:zlib';

/**
 * Counting the pages of a PDF from its bytes, for holds: no rendering, no recursion, linear passes, and an answer
 * that is never below what a reader may find in the file (a hold must not under-count), or none at all.
 *
 * A reader finds the pages by walking the page tree (the catalog's `/Pages`, each node's `/Kids`), or trusts the root
 * node's `/Count` (pdf.js and pypdf do), or, with a broken tree, collects the objects typed `/Page` (recovery). The
 * count is the largest of the three: the leaves of the page tree, walked from every catalog (an object typed
 * `/Catalog` or named by a `/Root`) and from every node typed `/Pages` (a reader repairing the file may take any as the
 * root); the largest `/Count` of a `/Pages` node; the objects typed `/Page`.
 *
 * Each node of the walk counts what the most lenient reader makes of it: a node without `/Kids` is a page whatever
 * its type (PDFium, pdf.js), a node with `/Kids` the pages below it (at least one, as pdf.js takes a `/Page` with
 * `/Kids`, unless typed `/Pages` only), a kid the file does not define, or defines with nothing counted, a page; a node
 * reached twice (a tree that is not one) counts each time. An object the file defines again (an incremental update)
 * counts at the most its definitions give, so whichever the cross-reference table (or stream) picks is covered: a
 * later, smaller tree does not lower the count, since a reader recovering the file may take the earlier.
 *
 * When the walk is in doubt, the count bounds every tree the file could hold instead: every page of a tree is one
 * reference in some `/Kids` array, so the references of all of them (name trees, form fields and inner nodes
 * included) stand for the tree's leaves. In doubt: no catalog leading to a tree, one whose `/Pages` the file does not
 * define, a `/Pages` or `/Root` given other than by reference (in place, behind a comment), a cycle, a tree deeper than `maxTreeDepth` or with more than
 * `maxTreeReferences` kids, a `/Kids` outside any object, an object that starts before the one before it ends (no
 * `endobj`: a header inside another object's data).
 *
 * Objects packed in object streams (`/Type /ObjStm`, PDF 1.5, what most writers produce beside a cross-reference
 * stream) are read too: each stream is inflated (FlateDecode, or none) under `maxObjectStreamBytes` each, and its
 * objects are counted under the numbers its header gives them, as above. What they inflate to and hold is bounded by
 * the file (`inflatedBytesPerByte`, `bytesPerPackedObject`, at most `maxInflatedBytes` and `maxPackedObjects`): the
 * count runs on the request's thread, and a few megabytes of zip bomb made it scan 64 MiB of names for seconds.
 *
 * The bytes are searched (`Buffer.indexOf`) for the two things the count starts from, a `/` (a name) and `obj` (an
 * object header or `endobj`), not decoded to a string nor matched with a pattern at every position; the names that
 * may matter are compared byte by byte, their escapes decoded on the way, with no string made.
 *
 * Undefined when the file does not show its pages: not a PDF, encrypted (`/Encrypt`), a `/Kids`, `/Count` or `/Type`
 * given by reference or behind a comment, a malformed `/Kids` array, an object stream that cannot be read in full
 * (another filter or a predictor, truncated or corrupt, past the caps, streams that overlap, a malformed header, an
 * object that runs past the next one's offset, its delimiters unbalanced), or no page at all. Names are read with
 * their `#xx` escapes decoded (`/P#61ge` is `/Page`).
 */
export function countPdfPages(pdf: Uint8Array): number | undefined {
  const bytes = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength);
  // Readers take a header anywhere in the first 1,024 bytes.
  const header = bytes.subarray(0, 1_024 + pdfHeader.length).indexOf(pdfHeader);
  if (header < 0) return undefined;

  const tally = new Tally();
  const objectStreams: ObjectStreamAt[] = [];
  if (!scan(bytes, header, tally, objectStreams)) return undefined;
  tally.begin(undefined);

  const budget = objectStreamBudget(bytes.length);
  let readUpTo = 0;
  for (const at of objectStreams) {
    // Streams do not overlap in a well-formed file; letting them would scan (and inflate) the same bytes again, and
    // search for the same `endstream` again.
    if (at.start < readUpTo) return undefined;
    const stream = readObjectStream(bytes, at.start, budget);
    if (stream === undefined) return undefined;
    readUpTo = stream.end;
    const { content, keys, starts } = stream;
    for (let index = 0; index < keys.length; index += 1) {
      const object = content.subarray(starts[index]!, starts[index + 1] ?? content.length);
      tally.begin(keys[index]);
      if (!scan(object, 0, tally)) return undefined;
      // A reader parses the object from its offset on: one that runs past the next offset is not all read here (a
      // name cut in two at the offset is read by neither object).
      if (!balanced(object)) return undefined;
      tally.begin(undefined);
    }
    // Past the most it keeps apart, nothing read after can bring the count back.
    if (tally.objectsCounted > maxCountedObjects) return undefined;
  }
  if (tally.objectsCounted > maxCountedObjects) return undefined;
  return tally.pages();
}

/** A `/Count` past this is held as this: more pages than any provider takes. */
const countCeiling = 1_000_000_000;
/** The most one object stream may inflate to; real ones hold a few hundred objects, well under a mebibyte. */
export const maxObjectStreamBytes = 8 * 1024 * 1024;
/**
 * The most all the object streams of a file may inflate to together, per byte of the file. Real ones inflate to 0.2
 * to 2.2 times the file (qpdf's rewrites of Debian's manuals, of pdfkit's output and of Chromium's tagged output:
 * 693 pages, 100,000 objects, 9 MB from 4 MB), pdfkit's form fields rewritten by qpdf, the densest measured, to 7.4
 * times; a zip bomb inflates a thousand times, and each byte inflated is scanned on the request's thread (tens of
 * nanoseconds a byte of names). Bounded by the file, the work stays a multiple of the bytes sent, however many parts
 * a request carries them in.
 */
export const inflatedBytesPerByte = 10;
/**
 * The most all the object streams of a file may inflate to together, however large the file: near twice the 9 MB of
 * the 693-page tagged file above, and a few hundred milliseconds of scan at most.
 */
export const maxInflatedBytes = 16 * 1024 * 1024;
/**
 * The most objects all the object streams of a file may hold together, one per this many bytes of the file: each
 * costs a scan of its own (a few hundred nanoseconds), and real files spend 20 to 40 bytes on one where an empty one
 * takes four (its header pair).
 */
export const bytesPerPackedObject = 8;
/** The most objects all the object streams of a file may hold together, however large the file. */
export const maxPackedObjects = 1_000_000;
/** The most object streams a file may have (each costs an inflate); real ones have one per ~100 objects. */
export const maxObjectStreams = 10_000;
/**
 * The most objects holding a `/Kids`, a `/Count` or a page type the count keeps apart (a page tree that large is far
 * past what any provider takes, which is what no count holds anyway); its memory stays a few megabytes.
 */
export const maxCountedObjects = 100_000;
/**
 * The deepest page tree the count walks (PDFium stops at 1,024 levels; real trees are a few levels deep): deeper, it
 * bounds the tree by all the `/Kids` references instead.
 */
export const maxTreeDepth = 1_024;
/** The most `/Kids` references the count keeps to walk (one a page and inner node): past it, as past the depth. */
export const maxTreeReferences = 1_000_000;
/** What the object streams of a file of `fileBytes` may inflate to and hold together. */
function objectStreamBudget(fileBytes: number): ObjectStreamBudget {
  return {
    inflate: Math.min(maxInflatedBytes, fileBytes * inflatedBytesPerByte),
    objects: Math.min(maxPackedObjects, Math.floor(fileBytes / bytesPerPackedObject)),
  };
}

/** What is left for the object streams still to read: bytes to inflate to, objects to hold. */
interface ObjectStreamBudget {
  inflate: number;
  objects: number;
}

/** The most bytes an object stream's dictionary may take: its few entries are short. */
const maxDictionaryBytes = 4_096;

const pdfHeader = Buffer.from('%PDF-', 'latin1');
const objKeyword = Buffer.from('obj', 'latin1');
const endstreamKeyword = Buffer.from('endstream', 'latin1');

/** One definition of an object with a `/Kids`, as far as the page tree goes. */
interface Node {
  /** The object numbers of its `/Kids` (of all of them, should it hold several). */
  kids: number[];
  page: boolean;
  pagesNode: boolean;
}

/** An object holding something counted, over all its definitions. */
interface CountedObject {
  /** The most `/Kids` references one definition holds. */
  kids: number;
  /** The largest `/Count` of a definition typed `/Pages`. */
  count: number;
  page: boolean;
  pagesNode: boolean;
  catalog: boolean;
  /** The objects its `/Pages` entries name (a catalog's page tree). */
  pagesReferences: number[] | undefined;
  /** Its definitions with a `/Kids`. */
  nodes: Node[] | undefined;
  /** Whether a definition has no `/Kids`: a page to a reader that picks it. */
  leaf: boolean;
}

/** What the count has read: per object (its latest number), and what lies outside any. */
class Tally {
  private readonly objects = new Map<number, CountedObject>();
  // What lies outside any object (after a stray endobj, in a trailer) counts in full: it is not redefined.
  private looseKids = 0;
  private loosePages = 0;
  private looseCount = 0;
  private readonly loosePagesReferences: number[] = [];
  /** The objects a `/Root` names (the trailers' catalogs). */
  private readonly roots = new Set<number>();
  /** The `/Kids` references kept for the walk, all definitions together. */
  private references = 0;
  /** The walk cannot be trusted (see `countPdfPages`): the count bounds every tree instead. */
  doubt = false;
  // The object being read: its number, and what this definition of it holds so far.
  key: number | undefined;
  /** The references of its `/Kids`, as many as `maxTreeReferences` leaves room for; undefined without one. */
  kids: number[] | undefined;
  /** How many references its `/Kids` hold (above `kids.length` past the room). */
  kidsCount = 0;
  count = 0;
  pagesNode = false;
  page = false;
  catalog = false;
  pagesReferences: number[] | undefined;
  /**
   * This definition is an object stream: what its stream shows when stored unfiltered is counted when the stream is
   * read, under the numbers of the objects inside, and its own dictionary (`/Type /ObjStm`) holds nothing counted.
   */
  objectStream = false;

  /** The definition read so far is complete; what follows belongs to object `key` (none: outside any). */
  begin(key: number | undefined): void {
    // A header while an object is open: one object's data holds another's header, or its `endobj` is missing, and
    // which bytes a reader takes for which object is not known.
    if (key !== undefined && this.key !== undefined) this.doubt = true;
    this.commit();
    this.key = key;
  }

  /** How many objects hold something counted. */
  get objectsCounted(): number {
    return this.objects.size;
  }

  /** Where the references of a `/Kids` of the object being read go, and how many more may be kept. */
  kidsSink(): { sink: number[]; room: number } {
    this.kids ??= [];
    return { sink: this.kids, room: maxTreeReferences - this.references };
  }

  addRoot(root: number): void {
    this.roots.add(root);
  }

  addPagesReference(pages: number): void {
    if (this.pagesReferences === undefined) this.pagesReferences = [pages];
    else this.pagesReferences.push(pages);
  }

  private commit(): void {
    if (this.objectStream) {
      this.kids = undefined;
      this.kidsCount = 0;
      this.count = 0;
      this.page = false;
      this.pagesNode = false;
      this.catalog = false;
      this.pagesReferences = undefined;
      this.objectStream = false;
    }
    const kids = this.kidsCount;
    // Past the references kept, the walk cannot be made (and the memory stays bounded).
    if (kids !== (this.kids?.length ?? 0)) this.doubt = true;
    if (this.key === undefined) {
      this.looseKids += kids;
      if (this.page) this.loosePages += 1;
      if (this.pagesNode) this.looseCount = Math.max(this.looseCount, this.count);
      if (this.pagesReferences)
        for (const pages of this.pagesReferences) this.loosePagesReferences.push(pages);
      // A `/Kids` outside any object may belong to one a reader finds where this scan does not.
      if (kids > 0) this.doubt = true;
    } else {
      let seen = this.objects.get(this.key);
      const pagesCount = this.pagesNode ? this.count : 0;
      const counted =
        this.kids !== undefined ||
        pagesCount > 0 ||
        this.page ||
        this.pagesNode ||
        this.catalog ||
        this.pagesReferences !== undefined;
      if (!seen && counted && this.objects.size <= maxCountedObjects) {
        // Past the most it keeps, the count is given up (`objectsCounted`): memory stays bounded meanwhile.
        seen = {
          kids: 0,
          count: 0,
          page: false,
          pagesNode: false,
          catalog: false,
          pagesReferences: undefined,
          nodes: undefined,
          leaf: false,
        };
        this.objects.set(this.key, seen);
      }
      if (seen) {
        seen.kids = Math.max(seen.kids, kids);
        seen.count = Math.max(seen.count, pagesCount);
        seen.page ||= this.page;
        seen.pagesNode ||= this.pagesNode;
        seen.catalog ||= this.catalog;
        if (this.pagesReferences) {
          seen.pagesReferences ??= [];
          for (const pages of this.pagesReferences) seen.pagesReferences.push(pages);
        }
        if (this.kids === undefined) seen.leaf = true;
        else {
          this.references += this.kids.length;
          seen.nodes ??= [];
          seen.nodes.push({ kids: this.kids, page: this.page, pagesNode: this.pagesNode });
        }
      }
    }
    this.kids = undefined;
    this.kidsCount = 0;
    this.count = 0;
    this.pagesNode = false;
    this.page = false;
    this.catalog = false;
    this.pagesReferences = undefined;
  }

  pages(): number | undefined {
    let typedPages = this.loosePages;
    let largestCount = this.looseCount;
    for (const object of this.objects.values()) {
      if (object.page) typedPages += 1;
      largestCount = Math.max(largestCount, object.count);
    }
    const tree = this.doubt ? undefined : this.treePages();
    const pages = Math.max(tree ?? this.allKids(), typedPages, largestCount);
    return pages > 0 ? pages : undefined;
  }

  /** The references of every `/Kids` array in the file: at least the leaves of any tree built from them. */
  private allKids(): number {
    let references = this.looseKids;
    for (const object of this.objects.values()) references += object.kids;
    return references;
  }

  /**
   * The most leaves a page tree of the file has, walked from each catalog's `/Pages` and each node typed `/Pages`;
   * undefined when the walk is in doubt (no catalog leading to a tree, a cycle, past `maxTreeDepth`). Each object is
   * walked once (its leaves kept), depth first with a stack of its own.
   */
  private treePages(): number | undefined {
    const starts = new Set<number>(this.loosePagesReferences);
    let rooted = false;
    for (const [key, object] of this.objects) {
      if (object.pagesNode) starts.add(key);
      if (!object.catalog && !this.roots.has(key)) continue;
      for (const pages of object.pagesReferences ?? []) {
        // A catalog's tree the file does not define (or defines with nothing counted): a reader's guess.
        if (!this.objects.has(pages)) return undefined;
        starts.add(pages);
        rooted = true;
      }
    }
    if (!rooted) return undefined;

    const leaves = new Map<number, number>();
    const open = new Set<number>();
    // An object number to enter, or one whose kids are all walked as `-number - 1`.
    const stack: number[] = [];
    let most = 0;
    for (const start of starts) {
      stack.push(start);
      while (stack.length > 0) {
        const item = stack.pop()!;
        if (item < 0) {
          const key = -item - 1;
          open.delete(key);
          leaves.set(key, this.leavesOf(this.objects.get(key)!, leaves));
          continue;
        }
        if (leaves.has(item)) continue;
        // On the path from the start: a cycle, which readers refuse or cut where they please.
        if (open.has(item)) return undefined;
        const object = this.objects.get(item);
        if (object === undefined) continue;
        if (open.size >= maxTreeDepth) return undefined;
        open.add(item);
        stack.push(-item - 1);
        // A kid without a definition with /Kids is a page, walked or not.
        for (const node of object.nodes ?? [])
          for (const kid of node.kids) if (!leaves.has(kid) && this.objects.get(kid)?.nodes) stack.push(kid);
      }
      most = Math.max(most, leaves.get(start) ?? 0);
    }
    return most;
  }

  /** The leaves below `object` (its kids' already walked): the most any of its definitions gives. */
  private leavesOf(object: CountedObject, leaves: ReadonlyMap<number, number>): number {
    let most = object.leaf ? 1 : 0;
    for (const node of object.nodes ?? []) {
      let sum = 0;
      // A kid is at least a page: one without `/Kids` is, one with none under it may be taken for one.
      for (const kid of node.kids) sum = Math.min(sum + Math.max(1, leaves.get(kid) ?? 1), countCeiling);
      most = Math.max(most, node.pagesNode && !node.page ? sum : Math.max(1, sum));
    }
    return most;
  }
}

/** An object typed `/ObjStm` in the file: its number and where its header's `obj` ends. */
interface ObjectStreamAt {
  key: number;
  start: number;
}

/**
 * Reads the names the count acts on (`/Kids`, `/Type`, `/Count`, `/Encrypt`, `/ObjStm`, and any with a `#` escape,
 * which may decode to one) from `from` on into `tally`; false when the file cannot be counted. With `objectStreams`
 * (the file itself) object headers (`12 0 obj`) and `endobj` mark where each object starts and ends, and an object
 * typed `/ObjStm` is noted there to be read after; without (an object inside an object stream, which has neither
 * headers nor streams) an `/ObjStm` is a doubt. Each byte is looked at a bounded number of times: the `/` and `obj`
 * are found with `indexOf` (a `/` close by byte by byte first, in an object stream's objects), a name or value is
 * read once forward, an object number once backward from its `obj`.
 */
function scan(bytes: Buffer, from: number, tally: Tally, objectStreams?: ObjectStreamAt[]): boolean {
  const length = bytes.length;
  // An object of an object stream is a dictionary, its names close together; the file is mostly binary data.
  const near = objectStreams ? 0 : 16;
  let slash = nextSlash(bytes, from, near);
  let obj = objectStreams ? bytes.indexOf(objKeyword, from) : -1;
  let objectStart = -1;
  while (slash >= 0 || obj >= 0) {
    if (obj >= 0 && (slash < 0 || obj < slash)) {
      const at = obj;
      obj = bytes.indexOf(objKeyword, at + 3);
      if (at + 3 < length && isRegular(bytes[at + 3]!)) continue;
      if (
        at - 3 >= from &&
        bytes[at - 3] === 0x65 /* e */ &&
        bytes[at - 2] === 0x6e /* n */ &&
        bytes[at - 1] === 0x64 /* d */ &&
        (at - 3 === 0 || !isRegular(bytes[at - 4]!))
      ) {
        tally.begin(undefined);
        continue;
      }
      const number = objectNumberBefore(bytes, at, from);
      if (number === undefined) continue;
      tally.begin(number);
      objectStart = at + 3;
      continue;
    }

    const at = slash + 1;
    // A name acted on starts with one of these letters, or with an escape; spelt with escapes it is at most 21 bytes.
    if (!isNameInitial(bytes[at])) {
      slash = nextSlash(bytes, at, near);
      continue;
    }
    let end = at;
    while (end < length && isRegular(bytes[end]!)) end += 1;
    slash = nextSlash(bytes, end, near);
    if (end - at > 21) continue;
    const name = knownName(bytes, at, end, actedNames);
    if (name === 'Encrypt' || name === 'ObjStm') return false;
    if (name === 'Kids') {
      const { sink, room } = tally.kidsSink();
      const references = readReferences(bytes, end, sink, room);
      if (references === undefined) return false;
      tally.kidsCount += references;
    } else if (name === 'Pages' || name === 'Root') {
      // A catalog's page tree, a trailer's catalog: by reference. Given in place, or behind a comment, what the tree
      // is cannot be told from here; anything else is another use of the name.
      const position = skipWhitespace(bytes, end);
      const code = bytes[position];
      if (code === 0x25 /* % */ || (code === 0x3c /* < */ && bytes[position + 1] === 0x3c))
        tally.doubt = true;
      else if (referenceEnd(bytes, position) !== undefined) {
        const number = readNumber(bytes, position);
        if (name === 'Pages') tally.addPagesReference(number);
        else tally.addRoot(number);
      }
    } else if (name === 'Type') {
      const position = skipWhitespace(bytes, end);
      if (bytes[position] === 0x25 /* % */) return false;
      if (bytes[position] === 0x2f /* / */) {
        let valueEnd = position + 1;
        while (valueEnd < length && isRegular(bytes[valueEnd]!)) valueEnd += 1;
        const type = knownName(bytes, position + 1, valueEnd, typeNames);
        // The value is no key of its own (`/Type /Pages` names no page tree).
        slash = nextSlash(bytes, valueEnd, near);
        if (type === 'Page') tally.page = true;
        else if (type === 'Pages') tally.pagesNode = true;
        else if (type === 'Catalog') tally.catalog = true;
        else if (type === 'ObjStm') {
          // Read after this pass, from its header; one outside any object, or inside one, cannot be.
          if (!objectStreams || tally.key === undefined || objectStreams.length >= maxObjectStreams)
            return false;
          objectStreams.push({ key: tally.key, start: objectStart });
          tally.objectStream = true;
        }
      } else if (referenceEnd(bytes, position) !== undefined) return false;
    } else if (name === 'Count') {
      const value = readCount(bytes, end);
      if (value === undefined) return false;
      tally.count = Math.max(tally.count, value);
    }
  }
  return true;
}

/**
 * The first `/` from `at` on, -1 when none: looked for byte by byte in the `near` bytes (where names are close
 * together, a call to `indexOf` costs more than those bytes), then with `indexOf`.
 */
function nextSlash(bytes: Buffer, at: number, near: number): number {
  const stop = Math.min(bytes.length, at + near);
  for (let position = at; position < stop; position += 1) if (bytes[position] === 0x2f) return position;
  return stop < bytes.length ? bytes.indexOf(0x2f, stop) : -1;
}

/** Whether a name starting with this byte may be one `scan` acts on: C, E, K, O, P, R, T, or an escape (`#`). */
function isNameInitial(code: number | undefined): boolean {
  return code !== undefined && nameInitials[code] === 1;
}

const nameInitials = new Uint8Array(256);
for (const letter of 'CEKOPRT#') nameInitials[letter.charCodeAt(0)] = 1;

/**
 * The object number of a header whose `obj` is at `at` (`12 0 obj`: digits, whitespace, digits, whitespace);
 * undefined when what precedes `obj` is not that. (Numbers past 2^53 may read as one another: their objects then
 * count as one defined again, at the most of their definitions.)
 */
function objectNumberBefore(bytes: Buffer, at: number, from: number): number | undefined {
  let position = at - 1;
  const whitespaceEnd = position;
  while (position >= from && isWhitespace(bytes[position]!)) position -= 1;
  if (position === whitespaceEnd) return undefined;
  const generationEnd = position;
  while (position >= from && isDigit(bytes[position]!)) position -= 1;
  if (position === generationEnd) return undefined;
  const gapEnd = position;
  while (position >= from && isWhitespace(bytes[position]!)) position -= 1;
  if (position === gapEnd) return undefined;
  const numberEnd = position;
  while (position >= from && isDigit(bytes[position]!)) position -= 1;
  if (position === numberEnd) return undefined;
  return readNumber(bytes, position + 1);
}

/** The names `scan` acts on, and the `/Type` values it tells apart, by their length (none is longer than 7 bytes). */
const actedNames = namesByLength(['Kids', 'Type', 'Count', 'Pages', 'Root', 'Encrypt', 'ObjStm']);
const typeNames = namesByLength(['Page', 'Pages', 'Catalog', 'ObjStm']);

function namesByLength(names: readonly string[]): Array<Array<{ name: string; bytes: Buffer }>> {
  const byLength: Array<Array<{ name: string; bytes: Buffer }>> = Array.from({ length: 8 }, () => []);
  for (const name of names) byLength[name.length]!.push({ name, bytes: Buffer.from(name, 'latin1') });
  return byLength;
}

/** Where `knownName` decodes a name: the longest it compares, and one more byte to tell a longer one. */
const decoded = new Uint8Array(8);

/**
 * The name spelt from `at` to `end` when, its `#xx` escapes decoded, it is one of `names`; undefined otherwise. Reads
 * no further than 8 decoded bytes and makes no string: it runs for every name that may matter, in every object.
 */
function knownName(
  bytes: Buffer,
  at: number,
  end: number,
  names: ReadonlyArray<ReadonlyArray<{ name: string; bytes: Buffer }>>,
): string | undefined {
  let length = 0;
  for (let position = at; position < end; position += 1) {
    if (length === decoded.length) return undefined;
    let code = bytes[position]!;
    // As `decodeName`: a `#` and two hex digits, within the name.
    if (code === 0x23 /* # */ && position + 2 < end) {
      const high = hexValue[bytes[position + 1]!]!;
      const low = hexValue[bytes[position + 2]!]!;
      if (high < 16 && low < 16) {
        code = high * 16 + low;
        position += 2;
      }
    }
    decoded[length] = code;
    length += 1;
  }
  if (length >= names.length) return undefined;
  for (const candidate of names[length]!) {
    let same = true;
    for (let index = 0; index < length && same; index += 1) same = decoded[index] === candidate.bytes[index];
    if (same) return candidate.name;
  }
  return undefined;
}

/** Each byte's value as a hex digit, 16 for any other byte. */
const hexValue = new Uint8Array(256).fill(16);
for (let digit = 0; digit < 16; digit += 1) {
  hexValue[digit.toString(16).charCodeAt(0)] = digit;
  hexValue[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

/** A name as readers compare it: each `#xx` escape decoded. */
function decodeName(raw: string): string {
  if (!raw.includes('#')) return raw;
  return raw.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** PDF whitespace: NUL, tab, line feed, form feed, carriage return, space. */
function isWhitespace(code: number): boolean {
  return byteClass[code] === whitespace;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Not whitespace nor a delimiter `( ) < > [ ] { } / %`: a byte of a name, number or keyword. */
function isRegular(code: number): boolean {
  return byteClass[code] === regular;
}

const regular = 0;
const whitespace = 1;
const delimiter = 2;
/** Each byte's class, looked up once per byte read. */
const byteClass = new Uint8Array(256);
for (const code of [0, 9, 10, 12, 13, 32]) byteClass[code] = whitespace;
for (const code of [0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]) byteClass[code] = delimiter;

function skipWhitespace(bytes: Buffer, at: number): number {
  let position = at;
  while (position < bytes.length && isWhitespace(bytes[position]!)) position += 1;
  return position;
}

/** The end of the digits at `at`, or `at` when there are none. */
function digitsEnd(bytes: Buffer, at: number): number {
  let position = at;
  while (position < bytes.length && isDigit(bytes[position]!)) position += 1;
  return position;
}

/** Where the reference (`12 0 R`) at `at` ends; undefined when there is none there. */
function referenceEnd(bytes: Buffer, at: number): number | undefined {
  let position = digitsEnd(bytes, at);
  if (position === at) return undefined;
  let next = skipWhitespace(bytes, position);
  if (next === position) return undefined;
  position = digitsEnd(bytes, next);
  if (position === next) return undefined;
  next = skipWhitespace(bytes, position);
  if (next === position || bytes[next] !== 0x52 /* R */) return undefined;
  if (next + 1 < bytes.length && isRegular(bytes[next + 1]!)) return undefined;
  return next + 1;
}

/**
 * The references in the `/Kids` array that starts at `at`, their object numbers pushed on `sink` while it holds fewer
 * than `room`; undefined when it is not an array of references written out there (given by reference, a comment or
 * anything else inside, no closing bracket).
 */
function readReferences(bytes: Buffer, at: number, sink: number[], room: number): number | undefined {
  let position = skipWhitespace(bytes, at);
  if (bytes[position] !== 0x5b /* [ */) return undefined;
  position += 1;
  let references = 0;
  for (;;) {
    position = skipWhitespace(bytes, position);
    if (position >= bytes.length) return undefined;
    if (bytes[position] === 0x5d /* ] */) return references;
    const end = referenceEnd(bytes, position);
    if (end === undefined) return undefined;
    if (sink.length < room) sink.push(readNumber(bytes, position));
    position = end;
    references += 1;
  }
}

/** The unsigned integer whose digits start at `at`. */
function readNumber(bytes: Buffer, at: number): number {
  const end = digitsEnd(bytes, at);
  // Short ones without a string: nearly every object number.
  if (end - at > 9) return Number(bytes.toString('latin1', at, end));
  let value = 0;
  for (let position = at; position < end; position += 1) value = value * 10 + bytes[position]! - 0x30;
  return value;
}

/**
 * The integer of the `/Count` at `at`, at most `countCeiling`; 0 for a value no reader takes as a count (a real
 * number, a name, a negative one); undefined for one given by reference or behind a comment, which this pass cannot
 * follow.
 */
function readCount(bytes: Buffer, at: number): number | undefined {
  const position = skipWhitespace(bytes, at);
  if (bytes[position] === 0x25 /* % */) return undefined;
  if (referenceEnd(bytes, position) !== undefined) return undefined;
  const sign = bytes[position] === 0x2b /* + */ || bytes[position] === 0x2d; /* - */
  const start = sign ? position + 1 : position;
  const end = digitsEnd(bytes, start);
  if (end === start || (end < bytes.length && isRegular(bytes[end]!))) return 0;
  if (bytes[position] === 0x2d) return 0;
  // Its leading zeros aside (the last digit kept), read without a string, as `/Count` may come again and again.
  let digits = start;
  while (digits < end - 1 && bytes[digits] === 0x30) digits += 1;
  return end - digits > 9 ? countCeiling : Math.min(readNumber(bytes, digits), countCeiling);
}

/**
 * The objects of the object stream whose dictionary follows `start` (just past its `obj`): its decoded `content`, the
 * number of each object and where in `content` it starts, and where the stream's data ends in `bytes`; undefined
 * when it cannot be read in full and within `budget` (what it holds is taken off, its objects before it is inflated).
 */
function readObjectStream(
  bytes: Buffer,
  start: number,
  budget: ObjectStreamBudget,
): { content: Buffer; keys: number[]; starts: number[]; end: number } | undefined {
  const dictionary = readDictionary(bytes, start);
  if (dictionary === undefined) return undefined;
  const { entries } = dictionary;
  const type = entries.get('Type');
  const count = entries.get('N');
  const first = entries.get('First');
  if (type?.kind !== 'name' || type.value !== 'ObjStm') return undefined;
  if (count?.kind !== 'integer' || first?.kind !== 'integer') return undefined;
  if (count.value > budget.objects) return undefined;
  budget.objects -= count.value;
  const inflate = flate(entries.get('Filter'), entries.get('DecodeParms'));
  if (inflate === undefined) return undefined;

  // The `stream` keyword, then its end of line (CR LF or LF; a lone CR as readers tolerate).
  let position = skipWhitespace(bytes, dictionary.end);
  if (bytes.toString('latin1', position, position + 6) !== 'stream') return undefined;
  position += 6;
  if (bytes[position] === 0x0d) position += 1;
  if (bytes[position] === 0x0a) position += 1;
  else if (bytes[position - 1] !== 0x0d) return undefined;
  const dataStart = position;

  // Its `/Length` when it is a number that lands on `endstream`, else up to the first `endstream` (an indirect one).
  let dataEnd: number | undefined;
  const length = entries.get('Length');
  if (length?.kind === 'integer' && dataStart + length.value <= bytes.length) {
    const after = skipWhitespace(bytes, dataStart + length.value);
    if (bytes.toString('latin1', after, after + endstreamKeyword.length) === 'endstream')
      dataEnd = dataStart + length.value;
  }
  if (dataEnd === undefined) {
    const endstream = bytes.indexOf(endstreamKeyword, dataStart);
    if (endstream < 0) return undefined;
    dataEnd = endstream;
    if (bytes[dataEnd - 1] === 0x0a && dataEnd > dataStart) dataEnd -= 1;
    if (bytes[dataEnd - 1] === 0x0d && dataEnd > dataStart) dataEnd -= 1;
  }
  const data = bytes.subarray(dataStart, dataEnd);

  let content: Buffer;
  if (inflate) {
    if (budget.inflate <= 0) return undefined;
    try {
      // Throws past the cap (before allocating more), and on corrupt or truncated data: none is read in part.
      content = inflateSync(data, { maxOutputLength: Math.min(maxObjectStreamBytes, budget.inflate) });
    } catch {
      return undefined;
    }
  } else {
    if (data.length > Math.min(maxObjectStreamBytes, budget.inflate)) return undefined;
    content = data;
  }
  budget.inflate -= content.length;

  const objects = splitObjectStream(content, count.value, first.value);
  return objects && { content, keys: objects.keys, starts: objects.starts, end: dataEnd };
}

/**
 * The objects of an object stream's decoded `content`: its header, `count` pairs of object number and offset
 * (from `first`) in increasing order, then each object up to the next. Their numbers, and where each starts in
 * `content`; undefined when the header is not that.
 */
function splitObjectStream(
  content: Buffer,
  count: number,
  first: number,
): { keys: number[]; starts: number[] } | undefined {
  if (first > content.length) return undefined;
  const keys: number[] = [];
  const starts: number[] = [];
  let position = skipWhitespace(content, 0);
  while (position < first) {
    const numberEnd = digitsEnd(content, position);
    if (numberEnd === position) return undefined;
    const offsetStart = skipWhitespace(content, numberEnd);
    if (offsetStart === numberEnd) return undefined;
    const offsetEnd = digitsEnd(content, offsetStart);
    if (offsetEnd === offsetStart || offsetEnd - offsetStart > 9) return undefined;
    const start = first + readNumber(content, offsetStart);
    if (start > content.length || start < (starts.at(-1) ?? first)) return undefined;
    keys.push(readNumber(content, position));
    starts.push(start);
    position = skipWhitespace(content, offsetEnd);
    if (keys.length > count) return undefined;
  }
  if (keys.length !== count) return undefined;
  return { keys, starts };
}

/**
 * Whether the object that starts `bytes` (an object of an object stream, up to the next one's offset) ends in them:
 * its dictionaries and arrays close and no string or comment is left open. One that runs past them is read by a
 * reader in full, the rest of it among the next object's bytes here. Each byte is looked at once.
 */
function balanced(bytes: Buffer): boolean {
  let depth = 0;
  const length = bytes.length;
  for (let position = 0; position < length; position += 1) {
    const code = bytes[position]!;
    if (byteClass[code] !== delimiter) continue;
    if (code === 0x28 /* ( */) {
      let nesting = 1;
      for (position += 1; position < length && nesting > 0; position += 1) {
        const byte = bytes[position];
        if (byte === 0x5c /* \ */) position += 1;
        else if (byte === 0x28) nesting += 1;
        else if (byte === 0x29) nesting -= 1;
      }
      if (nesting > 0) return false;
      position -= 1;
    } else if (code === 0x3c /* < */) {
      if (bytes[position + 1] === 0x3c) {
        depth += 1;
        position += 1;
      } else {
        position = bytes.indexOf(0x3e /* > */, position);
        if (position < 0) return false;
      }
    } else if (code === 0x3e /* > */) {
      if (bytes[position + 1] !== 0x3e || depth === 0) return false;
      depth -= 1;
      position += 1;
    } else if (code === 0x5b /* [ */) depth += 1;
    else if (code === 0x5d /* ] */) {
      if (depth === 0) return false;
      depth -= 1;
    } else if (code === 0x25 /* % */) {
      while (position < length && bytes[position] !== 0x0a && bytes[position] !== 0x0d) position += 1;
    } else if (code === 0x29 /* ) */) return false;
  }
  return depth === 0;
}

/**
 * Whether a stream with this `/Filter` and `/DecodeParms` is deflated (true) or stored as is (false); undefined for
 * any other filter, a chain of filters, or a predictor.
 */
function flate(filter: PdfValue | undefined, parameters: PdfValue | undefined): boolean | undefined {
  let name: string | undefined;
  if (filter === undefined || filter.kind === 'null') name = undefined;
  else if (filter.kind === 'name') name = filter.value;
  else if (filter.kind === 'array' && filter.items.length <= 1) {
    const only = filter.items[0];
    if (only !== undefined && only.kind !== 'name') return undefined;
    name = only?.value;
  } else return undefined;
  if (name !== undefined && name !== 'FlateDecode' && name !== 'Fl') return undefined;

  const parameter = parameters?.kind === 'array' ? parameters.items[0] : parameters;
  if (parameters?.kind === 'array' && parameters.items.length > 1) return undefined;
  if (parameter !== undefined && parameter.kind !== 'null') {
    if (parameter.kind !== 'dictionary') return undefined;
    const predictor = parameter.entries.get('Predictor');
    if (predictor !== undefined && (predictor.kind !== 'integer' || predictor.value > 1)) return undefined;
  }
  return name !== undefined;
}

/** A value of an object stream's dictionary, as far as reading one needs: anything else is `other`. */
type PdfValue =
  | { kind: 'integer'; value: number }
  | { kind: 'name'; value: string }
  | { kind: 'null' | 'reference' | 'other' }
  | { kind: 'array'; items: PdfValue[] }
  | { kind: 'dictionary'; entries: Map<string, PdfValue> };

/**
 * The dictionary that starts at `at` (after whitespace and comments) and where it ends; undefined past
 * `maxDictionaryBytes`, nested deeper than a few levels, or malformed.
 */
function readDictionary(
  bytes: Buffer,
  at: number,
): { entries: Map<string, PdfValue>; end: number } | undefined {
  const reader = { bytes, position: at, limit: Math.min(bytes.length, at + maxDictionaryBytes) };
  const value = readValue(reader, 0);
  if (value?.kind !== 'dictionary') return undefined;
  return { entries: value.entries, end: reader.position };
}

interface Reader {
  bytes: Buffer;
  position: number;
  limit: number;
}

/** Skips whitespace and comments; false at the reader's limit. */
function skipSpace(reader: Reader): boolean {
  const { bytes } = reader;
  while (reader.position < reader.limit) {
    const code = bytes[reader.position]!;
    if (isWhitespace(code)) reader.position += 1;
    else if (code === 0x25 /* % */) {
      while (
        reader.position < reader.limit &&
        bytes[reader.position] !== 0x0a &&
        bytes[reader.position] !== 0x0d
      )
        reader.position += 1;
    } else return true;
  }
  return false;
}

function readValue(reader: Reader, depth: number): PdfValue | undefined {
  if (depth > 8 || !skipSpace(reader)) return undefined;
  const { bytes } = reader;
  const code = bytes[reader.position]!;
  if (code === 0x3c /* < */ && bytes[reader.position + 1] === 0x3c) {
    reader.position += 2;
    const entries = new Map<string, PdfValue>();
    for (;;) {
      if (!skipSpace(reader)) return undefined;
      if (bytes[reader.position] === 0x3e /* > */) {
        if (bytes[reader.position + 1] !== 0x3e) return undefined;
        reader.position += 2;
        return { kind: 'dictionary', entries };
      }
      const key = readValue(reader, depth + 1);
      if (key?.kind !== 'name') return undefined;
      const value = readValue(reader, depth + 1);
      // A key given twice may be read either way: which one a reader takes is not known.
      if (value === undefined || entries.has(key.value)) return undefined;
      entries.set(key.value, value);
    }
  }
  if (code === 0x5b /* [ */) {
    reader.position += 1;
    const items: PdfValue[] = [];
    for (;;) {
      if (!skipSpace(reader)) return undefined;
      if (bytes[reader.position] === 0x5d /* ] */) {
        reader.position += 1;
        return { kind: 'array', items };
      }
      const item = readValue(reader, depth + 1);
      if (item === undefined) return undefined;
      items.push(item);
    }
  }
  if (code === 0x2f /* / */) {
    let end = reader.position + 1;
    while (end < reader.limit && isRegular(bytes[end]!)) end += 1;
    const value = decodeName(bytes.toString('latin1', reader.position + 1, end));
    reader.position = end;
    return { kind: 'name', value };
  }
  if (code === 0x28 /* ( */) {
    // A literal string: balanced parentheses, a backslash escaping the next byte.
    let nesting = 0;
    for (; reader.position < reader.limit; reader.position += 1) {
      const byte = bytes[reader.position];
      if (byte === 0x5c /* \ */) reader.position += 1;
      else if (byte === 0x28) nesting += 1;
      else if (byte === 0x29 && --nesting === 0) {
        reader.position += 1;
        return { kind: 'other' };
      }
    }
    return undefined;
  }
  if (code === 0x3c /* < */) {
    const end = bytes.indexOf(0x3e /* > */, reader.position);
    if (end < 0 || end >= reader.limit) return undefined;
    reader.position = end + 1;
    return { kind: 'other' };
  }
  if (!isRegular(code)) return undefined;
  const reference = referenceEnd(bytes.subarray(0, reader.limit), reader.position);
  if (reference !== undefined) {
    reader.position = reference;
    return { kind: 'reference' };
  }
  let end = reader.position;
  while (end < reader.limit && isRegular(bytes[end]!)) end += 1;
  const token = bytes.toString('latin1', reader.position, end);
  reader.position = end;
  if (/^\+?\d{1,9}$/.test(token)) return { kind: 'integer', value: Number(token) };
  if (token === 'null') return { kind: 'null' };
  return { kind: 'other' };
}
