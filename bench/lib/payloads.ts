/**
 * What the fake OpenAI-compatible upstream answers, shared by the upstream server (bench/servers/upstream.ts) and the
 * in-process measurement (bench/in-process.ts), so both measure the same work.
 */

const STREAM_TOKENS = 20;
const created = 1_700_000_000;

/** One fixed non-streamed completion with usage (≈ 430 bytes). */
export const completionJson = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello! How can I assist you today?' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});

const chunk = (delta: object, finishReason: string | null) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  })}\n\n`;

/** The stream, one string per event: 20 content chunks, a finish chunk, a usage chunk and `[DONE]`. */
export const streamEvents: readonly string[] = [
  ...Array.from({ length: STREAM_TOKENS }, (_, index) =>
    chunk(index === 0 ? { role: 'assistant', content: 'tok0' } : { content: ` tok${index}` }, null),
  ),
  chunk({}, 'stop'),
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: 'gpt-4o-mini',
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: STREAM_TOKENS, total_tokens: 12 + STREAM_TOKENS },
  })}\n\n`,
  'data: [DONE]\n\n',
];
