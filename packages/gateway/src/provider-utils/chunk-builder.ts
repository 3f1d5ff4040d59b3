import type { ChatCompletionChunk, FinishReason, ToolCallDelta } from '../spec/openai-types.js';
import { type Usage, usageToOpenAI } from '../spec/usage.js';

/** Builds OpenAI chunks that share one id, creation time and model, as OpenAI's own stream does. */
export interface ChunkBuilder {
  role(): ChatCompletionChunk;
  text(content: string): ChatCompletionChunk;
  reasoning(content: string): ChatCompletionChunk;
  toolCall(delta: ToolCallDelta): ChatCompletionChunk;
  finish(reason: FinishReason): ChatCompletionChunk;
  usage(usage: Usage): ChatCompletionChunk;
  /** Lets a converter adopt the provider's message id once the first event revealed it. */
  setId(id: string): void;
}

export function createChunkBuilder(options: { id: string; model: string; created?: number }): ChunkBuilder {
  let id = options.id;
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const base = () => ({ id, object: 'chat.completion.chunk' as const, created, model: options.model });
  const delta = (value: ChatCompletionChunk['choices'][number]['delta']): ChatCompletionChunk => ({
    ...base(),
    choices: [{ index: 0, delta: value, finish_reason: null }],
  });
  return {
    role: () => delta({ role: 'assistant', content: '' }),
    text: (content) => delta({ content }),
    reasoning: (content) => delta({ reasoning_content: content }),
    toolCall: (toolCall) => delta({ tool_calls: [toolCall] }),
    finish: (reason) => ({ ...base(), choices: [{ index: 0, delta: {}, finish_reason: reason }] }),
    usage: (usage) => ({ ...base(), choices: [], usage: usageToOpenAI(usage) }),
    setId: (value) => {
      id = value;
    },
  };
}
