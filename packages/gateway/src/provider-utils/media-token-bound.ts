import type { MediaPart } from '../spec/media-part.js';

/**
 * The most input tokens one image part may cost where a provider documents no bound of its own: the largest any
 * provider documents. OpenAI's vision guide ("Calculating costs") bills gpt-4o-mini at high detail 2,833 base tokens
 * plus 5,667 a 512 px tile, and an image fit in 2,048 px with its short side at most 768 px covers at most 4 × 2
 * tiles: 2,833 + 8 × 5,667. Others stay below it (gpt-4o 1,445; gpt-4.1-nano's 1,536 patches × 2.46 ≈ 3,779;
 * Together's vision models up to 6,404; Claude 4,784).
 */
export const unknownImageTokenBound = 48_169;

/**
 * What Gemini bills a PDF page, and the most pages it takes. Gemini's document guide ("Document understanding",
 * ai.google.dev/gemini-api/docs/document-processing) takes documents of up to 1,000 pages and bills each page as an
 * image: 258 tokens on Gemini 2, 560 on Gemini 3 at the default media resolution for PDFs
 * (ai.google.dev/gemini-api/docs/media-resolution, "Token counts"; no adapter sends another).
 */
export const geminiPdfPageTokens = 560;
export const geminiPdfMaxPages = 1_000;

/**
 * The most one PDF may cost where a provider documents no bound of its own: Gemini's whole document, 1,000 × 560
 * (Anthropic's adapter bounds its document blocks by Anthropic's own guide).
 */
export const unknownDocumentTokenBound = geminiPdfMaxPages * geminiPdfPageTokens;

/**
 * A PDF billed by the page: its pages when they were counted (`MediaPart.pages`), up to the most the provider takes,
 * and that most when they were not (a link, pages that cannot be counted), at `pageTokens` each.
 */
export function pagedDocumentTokenBound(part: MediaPart, pageTokens: number, maxPages: number): number {
  return Math.min(part.pages ?? maxPages, maxPages) * pageTokens;
}

/** What Gemini bills a PDF: 560 tokens a page, up to the 1,000 pages it takes. */
export function geminiDocumentTokenBound(part: MediaPart): number {
  return pagedDocumentTokenBound(part, geminiPdfPageTokens, geminiPdfMaxPages);
}

/**
 * The most one audio part may cost: Gemini's audio guide (ai.google.dev/gemini-api/docs/audio, "Technical details")
 * bills 32 tokens a second and takes at most 9.5 hours of audio in one prompt. 32 × 9.5 × 3,600.
 */
export const unknownAudioTokenBound = 32 * 34_200;

/**
 * The most one video part may cost: Gemini's video guide (ai.google.dev/gemini-api/docs/video-understanding,
 * "Technical details") bills about 300 tokens a second at the default media resolution (258 a frame at 1 fps, 32 of
 * audio, timestamps) and lets models with a 2M-token context take up to 2 hours of it. 300 × 7,200.
 */
export const unknownVideoTokenBound = 300 * 7_200;

/**
 * The most one `image_url` part may cost on a provider that forwards whatever it carries and documents no bound of
 * its own: the largest documented for its kind; text (billed as text, at most a token a byte) its decoded size; an
 * unknown kind the largest of all, since it may be billed as any of them.
 */
export function unknownMediaTokenBound(part: MediaPart): number {
  switch (part.kind) {
    case 'image':
      return unknownImageTokenBound;
    case 'document':
      return unknownDocumentTokenBound;
    case 'audio':
      return unknownAudioTokenBound;
    case 'video':
      return unknownVideoTokenBound;
    case 'text':
      return part.bytes;
    case 'unknown':
      return Math.max(unknownVideoTokenBound, unknownAudioTokenBound, unknownDocumentTokenBound, part.bytes);
  }
}
