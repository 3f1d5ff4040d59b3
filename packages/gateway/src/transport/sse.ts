import { createParser, type ParseError } from 'eventsource-parser';
import type { StreamEvent } from '../spec/provider-adapter.js';

export class MalformedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedStreamError';
  }
}

/**
 * Reads server-sent events off a byte stream, as batches: every event one network read completed, together. A
 * provider often sends several events in one packet, and passing them on together spares each its own trip through
 * every async step downstream. A line that is not SSE (`garbage` instead of `data: …`) throws MalformedStreamError:
 * a provider that sends that is broken, and guessing would bill wrongly.
 */
export async function* readServerSentEventBatches(
  body: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<StreamEvent[], void, undefined> {
  let batch: StreamEvent[] = [];
  let parseError: ParseError | undefined;
  const parser = createParser({
    onEvent: (event) => {
      batch.push(event.event === undefined ? { data: event.data } : { event: event.event, data: event.data });
    },
    onError: (error) => {
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
