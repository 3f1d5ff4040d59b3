import { createParser, type ParseError } from 'eventsource-parser';
import type { StreamEvent } from '../spec/provider-adapter.js';

export class MalformedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedStreamError';
  }
}

/**
 * Reads server-sent events off a byte stream. A line that is not SSE (`garbage` instead of `data: …`)
 * throws MalformedStreamError: a provider that sends that is broken, and guessing would bill wrongly.
 */
export async function* readServerSentEvents(
  body: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<StreamEvent, void, undefined> {
  const queue: StreamEvent[] = [];
  let parseError: ParseError | undefined;
  const parser = createParser({
    onEvent: (event) => {
      queue.push(event.event === undefined ? { data: event.data } : { event: event.event, data: event.data });
    },
    onError: (error) => {
      parseError ??= error;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (queue.length > 0) yield queue.shift()!;
    if (parseError) throw new MalformedStreamError(`malformed event stream (${parseError.type})`);
  }
  parser.feed(decoder.decode());
  // A last event without its blank line still counts; a truncated one is caught by the adapter.
  parser.reset({ consume: true });
  while (queue.length > 0) yield queue.shift()!;
  if (parseError) throw new MalformedStreamError(`malformed event stream (${parseError.type})`);
}
