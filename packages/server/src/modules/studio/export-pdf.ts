import { existsSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import PDFDocument from 'pdfkit';
import type { ExportedConversation } from './export.js';

// The PDF export's layout, in whatever thread calls it: the routes run it in a worker (`pdf-worker.ts`), so this
// module imports nothing but PDFKit and Node (no database, no app) and that worker starts light.

/**
 * DejaVu Sans covers Latin, Arabic and most symbols; PDFKit's built-in Helvetica has Latin-1 only, so it is the
 * fallback on a machine without the font, where other scripts would print as blanks.
 */
const unicodeFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const unicodeBoldFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

/**
 * PDFKit lays out synchronously, and one call per message blocked the event loop for the whole render: 1.3 s for a
 * conversation of 2,000 messages of 2,000 characters, 14 s at the 50 MiB a conversation may hold. So a render lays
 * out a line, or a piece of at most `pieceLength` characters of a longer one, at a time, and lets other work in
 * every `sliceMs`. The routes now render in a worker thread, whose loop has little else to do; the pauses stay, so a
 * render in any thread is cut short by its `signal` and never holds its loop for long.
 */
const pieceLength = 2_000;
const sliceMs = 10;

/**
 * A run of characters without a space this long is measured as it goes and cut where it fills a line. PDFKit measures
 * a word wider than the line anew for each line it fills, so its cost grows with the square of the word's length: one
 * unbroken run of 200,000 characters (a base64 blob) took it minutes and gigabytes.
 */
const measuredRunLength = 32;

/**
 * Characters laid out between two clearings of the font's layout cache (`forgetLayouts`). PDFKit keeps the layout of
 * every word it measured until the document ends, about 550 bytes a character of distinct text: 27 GB for 50 MiB of
 * base64. The cache still saves most of the work within a stretch of prose, where words repeat.
 */
const layoutCacheCharacters = 50_000;

/** A piece of text to lay out in one call (see `pieces`); `text` undefined for a blank line. */
interface Piece {
  text: string | undefined;
  continued: boolean;
}

const blankLine: Piece = { text: undefined, continued: false };

/**
 * The pieces `text` is written in: a line each (an empty one as a blank line), a line longer than `pieceLength` cut
 * after the last space within each piece, and a run without a space cut where it fills a line (`widthOf` tells, from
 * `measuredRunLength` characters on). A cut line is written on from where its previous piece ended (`continued`),
 * which lays out its words as one call would, and an unbroken run as PDFKit would break it, a line at a time.
 */
function* pieces(text: string, widthOf: (text: string) => number, lineWidth: number): Generator<Piece> {
  const lines = text.split(/\r\n|\r|\n/);
  // A last line break ends the last line (one call writes nothing after it), and empty text writes nothing.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    if (line.trim() === '') {
      yield blankLine;
      continue;
    }
    let start = 0;
    let afterSpace = 0;
    let runStart = 0;
    /** The width of the run from `runStart`, once it is `measuredRunLength` long; -1 before. */
    let runWidth = -1;
    for (let index = 0; index < line.length; index += 1) {
      const code = line.charCodeAt(index);
      if (code === 0x20) {
        afterSpace = index + 1;
        runStart = afterSpace;
        runWidth = -1;
        continue;
      }
      // A character outside the basic plane is a surrogate pair: measured and never cut as one.
      const next = code >= 0xd800 && code <= 0xdbff && index + 1 < line.length ? index + 2 : index + 1;
      let end = -1;
      if (next - runStart >= measuredRunLength) {
        runWidth =
          runWidth < 0 ? widthOf(line.slice(runStart, next)) : runWidth + widthOf(line.slice(index, next));
        if (runWidth > lineWidth && index > start) end = index;
      }
      if (end < 0 && next - start >= pieceLength) end = afterSpace > start ? afterSpace : next;
      if (end > 0 && end < line.length) {
        yield { text: line.slice(start, end), continued: true };
        start = end;
        if (runStart < end) {
          runStart = end;
          runWidth = -1;
        }
      }
      index = next - 1;
    }
    yield { text: start === 0 ? line : line.slice(start), continued: false };
  }
}

/**
 * Empties the layout cache of the document's current font, an embedded (TrueType) one. The only place that reaches
 * into PDFKit's internals (0.20: `document._font.layoutCache`, the word → layout map of `EmbeddedFont`): PDFKit has no
 * public way to empty it, and its public `fontLayoutCache: false` turns it off, which costs 3.8 times the CPU on prose
 * (where words repeat) and 8% more on base64. A PDFKit that no longer has it makes this throw, so the export
 * fails, and export.test.ts with it, rather than quietly keeping every word again until the process runs out of memory.
 */
export function forgetLayouts(document: PDFKit.PDFDocument): void {
  const font = (document as unknown as { _font?: { layoutCache?: unknown } })._font;
  if (typeof font?.layoutCache !== 'object' || font.layoutCache === null) {
    throw new Error(
      'PDFKit changed: the embedded font has no layoutCache to empty (see forgetLayouts in export.ts)',
    );
  }
  font.layoutCache = Object.create(null);
}

/** Options of `renderPdf` and `toPdf`. */
export interface PdfOptions {
  /** Stops the render at its next pause (within `sliceMs`), rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Renders the export as a PDF, into one buffer (`renderPdf` without `onData`). Tests and the bench call it; the
 * routes render in a worker thread (`pdf-threads.ts`), which streams what `renderPdf` writes.
 */
export async function toPdf(exported: ExportedConversation, options: PdfOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await renderPdf(exported, (chunk) => chunks.push(chunk), options);
  return Buffer.concat(chunks);
}

/**
 * Renders the export as a PDF a piece at a time (`pieces`), letting the event loop of its thread run every `sliceMs`,
 * and hands each piece of the file to `onData` as PDFKit writes it (pages as they fill; the fonts, subset, at the
 * end). Resolves once the last piece was handed over.
 */
export async function renderPdf(
  exported: ExportedConversation,
  onData: (chunk: Buffer) => void,
  options: PdfOptions = {},
): Promise<void> {
  const { signal } = options;
  signal?.throwIfAborted();
  const document = new PDFDocument({
    size: 'A4',
    margin: 56,
    info: { Title: exported.title || 'Conversation' },
  });
  const hasUnicode = existsSync(unicodeFont) && existsSync(unicodeBoldFont);
  const regular = hasUnicode ? unicodeFont : 'Helvetica';
  const bold = hasUnicode ? unicodeBoldFont : 'Helvetica-Bold';
  document.on('data', onData);
  const done = new Promise<void>((resolve, reject) => {
    document.on('end', resolve);
    document.on('error', reject);
  });
  const lineWidth = document.page.width - document.page.margins.left - document.page.margins.right;
  let sliceStart = performance.now();
  let laidOut = 0;
  /** Writes `text` in the current font and size. */
  const write = async (text: string) => {
    const widths = new Map<string, number>();
    const widthOf = (characters: string) => {
      if (characters.length > 2) return document.widthOfString(characters);
      let width = widths.get(characters);
      if (width === undefined) {
        width = document.widthOfString(characters);
        widths.set(characters, width);
      }
      return width;
    };
    for (const piece of pieces(text, widthOf, lineWidth)) {
      if (piece.text === undefined) document.moveDown();
      else {
        document.text(piece.text, { continued: piece.continued });
        laidOut += piece.text.length;
        if (laidOut >= layoutCacheCharacters) {
          // PDFKit's built-in Helvetica (no DejaVu on the machine) keeps no layouts.
          if (hasUnicode) forgetLayouts(document);
          laidOut = 0;
        }
      }
      if (performance.now() - sliceStart >= sliceMs) {
        await setImmediate();
        signal?.throwIfAborted();
        sliceStart = performance.now();
      }
    }
  };

  document
    .font(bold)
    .fontSize(18)
    .text(exported.title || 'Conversation');
  document.moveDown(0.5);
  if (exported.systemPrompt) {
    document.font(bold).fontSize(10).fillColor('#475569').text('System');
    document.font(regular).fontSize(10);
    await write(exported.systemPrompt);
    document.moveDown();
  }
  for (const message of exported.messages) {
    const heading =
      message.role === 'user' ? 'User' : `Assistant${message.model ? ` (${message.model})` : ''}`;
    document.font(bold).fontSize(11).fillColor('#312e81').text(heading);
    document.font(regular).fontSize(11).fillColor('#0f172a');
    await write(message.content);
    if (message.role === 'assistant') {
      document
        .fontSize(8)
        .fillColor('#64748b')
        .text(
          `${message.inputTokens} input tokens, ${message.outputTokens} output tokens, ${message.credits} credits`,
        );
    }
    document.moveDown();
  }
  document.end();
  return done;
}
