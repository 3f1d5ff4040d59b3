import { createParser, type ParseError } from 'eventsource-parser';
import type { StreamEvent } from '../spec/provider-adapter.js';

export class MalformedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedStreamError';
  }
}

/**
 * The most characters one event (or one line without its end) may buffer: a non-streamed body's bound
 * (`readBodyText`), so a provider sending a line that never ends cannot grow memory without limit.
 */
const MAX_EVENT_CHARACTERS = 32 * 1024 * 1024;

export interface ReadServerSentEventsOptions {
  /** Default 32 Mi characters. */
  maxBufferSize?: number;
}

/**
 * Reads server-sent events off a byte stream, as batches: every event one network read completed, together. A
 * provider often sends several events in one packet, and passing them on together spares each its own trip through
 * every async step downstream. Lines the SSE spec says to ignore are ignored (an unknown field, `garbage` instead of
 * `data: …`, a `retry` that is not a number); a stream they leave without its final event is caught by the adapter.
 * An event past `maxBufferSize` throws MalformedStreamError.
 */
export async function* readServerSentEventBatches(
  body: AsyncIterable<Uint8Array | string>,
  options: ReadServerSentEventsOptions = {},
): AsyncGenerator<StreamEvent[], void, undefined> {
  let batch: StreamEvent[] = [];
  let parseError: ParseError | undefined;
  const parser = createParser({
    maxBufferSize: options.maxBufferSize ?? MAX_EVENT_CHARACTERS,
    onEvent: (event) => {
      batch.push(event.event === undefined ? { data: event.data } : { event: event.event, data: event.data });
    },
    onError: (error) => {
      if (error.type === 'unknown-field' || error.type === 'invalid-retry') return;
      parseError ??= error;
    },
  });
  const decoder = new TextDecoder();
  const take = () => {
    const events = batch;
    batch = [];
    return events;
  };
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (batch.length > 0) yield take();
    if (parseError) throw new MalformedStreamError(`malformed event stream (${parseError.type})`);
  }
  parser.feed(decoder.decode());
  // A last event without its blank line still counts; a truncated one is caught by the adapter.
  parser.reset({ consume: true });
  if (batch.length > 0) yield take();
  if (parseError) throw new MalformedStreamError(`malformed event stream (${parseError.type})`);
}
