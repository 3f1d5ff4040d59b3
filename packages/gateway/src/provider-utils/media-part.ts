import type { MediaKind, MediaPart } from '../spec/media-part.js';
import { dataUrlHead } from './parse-json.js';
import { countPdfPages } from './pdf-pages.js';

const mediaTypesByExtension: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  pdf: 'application/pdf',
};

/** The media type a link is sent with when its extension names none. */
const defaultLinkMediaType = 'image/jpeg';

function kindOf(mediaType: string): MediaKind {
  const type = mediaType.toLowerCase();
  if (type.startsWith('image/')) return 'image';
  if (type === 'application/pdf') return 'document';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('text/')) return 'text';
  return 'unknown';
}

/**
 * Links a provider reads as what they are whatever media type they are sent with: YouTube videos and files uploaded
 * to Google (the Files API, Cloud Storage), which Gemini takes by reference.
 */
const mediaByReference =
  /^(?:gs:\/\/|https?:\/\/(?:[a-z0-9-]+\.)*(?:youtube\.com|youtu\.be|googleapis\.com)(?:[/:?#]|$))/i;

/** How many base64 characters `decodeBase64` decodes at a time: a multiple of 4, whose copy stays in the cache. */
export const base64Chunk = 64 * 1024;
const chunkBytes = (base64Chunk * 3) / 4;

/**
 * The bytes the base64 in `text` from `from` on decodes to, exactly as `Buffer.from(text.slice(from), 'base64')`
 * gives them, a chunk at a time. Node 20 copies a string it decodes into one of two bytes a character first: whole,
 * a 75 MB PDF's 100 MB of base64 became a 200 MB copy, and decoding took twice as long as chunk by chunk. A chunk
 * of clean base64 (no padding, whitespace or other character inside) decodes to three quarters of its length and
 * leaves nothing over for the next; at the first that does not, the rest is decoded in one piece, as the whole is.
 */
export function decodeBase64(text: string, from: number): Buffer {
  const length = text.length - from;
  // What `Buffer.from` allocates for it: its length without the padding at its end, three quarters of it.
  let characters = length;
  if (characters > 0 && text.charCodeAt(text.length - 1) === 0x3d /* = */) characters -= 1;
  if (characters > 1 && text.charCodeAt(from + characters - 1) === 0x3d) characters -= 1;
  const bytes = Buffer.allocUnsafe((characters * 3) >>> 2);
  let written = 0;
  let at = from;
  while (text.length - at > base64Chunk) {
    const decoded = bytes.write(text.slice(at, at + base64Chunk), written, 'base64');
    if (decoded !== chunkBytes) break;
    written += decoded;
    at += base64Chunk;
  }
  // The last chunk, or the rest from one that was not clean (what it wrote is written over).
  written += bytes.write(text.slice(at), written, 'base64');
  return bytes.subarray(0, written);
}

/**
 * Classifies the URL of an `image_url` part, the way adapters that forward other media (Gemini) send it: a base64
 * data URL by its media type, a link by its extension. A link whose path has no extension (a CDN or an image
 * service's URL) is sent as `image/jpeg` and is an image; an extension this table does not know (`.mp4`, `.wav`) and
 * a link to media held by reference (`mediaByReference`) are `unknown`: the provider bills them as what they are.
 * Reads only the head of a data URL, so a large inline payload is neither copied nor scanned; unless `countPages`
 * (holds) asks for the pages of an inline PDF, which decodes and scans it once (`countPdfPages`).
 */
export function classifyMediaPart(url: string, options?: { countPages?: boolean }): MediaPart {
  const inline = dataUrlHead.exec(url);
  if (inline) {
    const mediaType = inline[1]!;
    const kind = kindOf(mediaType);
    // Every 4 base64 characters decode to at most 3 bytes.
    const bytes = Math.ceil(((url.length - inline[0].length) * 3) / 4);
    const pages =
      kind === 'document' && options?.countPages
        ? countPdfPages(decodeBase64(url, inline[0].length))
        : undefined;
    return { kind, mediaType, inline: true, bytes, pages };
  }
  const extension = /\.([a-z0-9]+)(?:\?|#|$)/i.exec(url)?.[1]?.toLowerCase();
  const mediaType = extension === undefined ? undefined : mediaTypesByExtension[extension];
  if (mediaType !== undefined)
    return { kind: kindOf(mediaType), mediaType, inline: false, bytes: 0, pages: undefined };
  const image = extension === undefined && !mediaByReference.test(url);
  return {
    kind: image ? 'image' : 'unknown',
    mediaType: defaultLinkMediaType,
    inline: false,
    bytes: 0,
    pages: undefined,
  };
}
