/**
 * What an `image_url` part carries as far as billing goes: an image, a PDF, audio, video, text, or something unknown
 * (a link without an extension saying which, a media type outside those). Classified once from the URL alone (the
 * media type of a base64 data URL, else the link's extension), never by fetching it.
 */
export type MediaKind = 'image' | 'document' | 'audio' | 'video' | 'text' | 'unknown';

export interface MediaPart {
  kind: MediaKind;
  /** The media type sent for it: the data URL's, else the one the link's extension names (`image/jpeg` if none). */
  mediaType: string;
  /** True for a base64 data URL (sent inline), false for a link. */
  inline: boolean;
  /** The most bytes the inline payload decodes to; 0 for a link. */
  bytes: number;
  /**
   * The pages of an inline PDF, counted from its bytes when it is classified for a hold (`countPages`), and only
   * when they can be counted (`countPdfPages`); undefined otherwise (a link, an encrypted PDF, an object stream that
   * cannot be read in full, or within what the count may inflate for the file's size).
   */
  pages?: number | undefined;
}
