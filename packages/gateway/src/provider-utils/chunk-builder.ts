import type { ChatCompletionChunk, FinishReason, ToolCallDelta } from '../spec/openai-types.js';
import { type Usage, usageToOpenAI } from '../spec/usage.js';

/** Builds OpenAI chunks that share one id, creation time and model, as OpenAI's own stream does. */
export interface ChunkBuilder {
  /** A chunk carrying `delta` for choice `index` (default 0). */
  delta(delta: ChatCompletionChunk['choices'][number]['delta'], index?: number): ChatCompletionChunk;
  /** The opening chunk of choice `index` (default 0), as every other method here: `n` choices stream side by side. */
  role(index?: number): ChatCompletionChunk;
  text(content: string, index?: number): ChatCompletionChunk;
  reasoning(content: string, index?: number): ChatCompletionChunk;
  toolCall(delta: ToolCallDelta, index?: number): ChatCompletionChunk;
  finish(reason: FinishReason, index?: number): ChatCompletionChunk;
  usage(usage: Usage): ChatCompletionChunk;
  /** Lets a converter adopt the provider's message id once the first event revealed it. */
  setId(id: string): void;
}

export function createChunkBuilder(options: { id: string; model: string; created?: number }): ChunkBuilder {
  let id = options.id;
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const { model } = options;
  // Object literals, not spreads of a shared base: a streamed answer builds one of these per event.
  const chunk = (choices: ChatCompletionChunk['choices']): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices,
  });
  const delta = (value: ChatCompletionChunk['choices'][number]['delta'], index = 0) =>
    chunk([{ index, delta: value, finish_reason: null }]);
  return {
    delta,
    role: (index) => delta({ role: 'assistant', content: '' }, index),
    text: (content, index) => delta({ content }, index),
    reasoning: (content, index) => delta({ reasoning_content: content }, index),
    toolCall: (toolCall, index) => delta({ tool_calls: [toolCall] }, index),
    finish: (reason, index = 0) => chunk([{ index, delta: {}, finish_reason: reason }]),
    usage: (usage) => ({ ...chunk([]), usage: usageToOpenAI(usage) }),
    setId: (value) => {
      id = value;
    },
  };
}
