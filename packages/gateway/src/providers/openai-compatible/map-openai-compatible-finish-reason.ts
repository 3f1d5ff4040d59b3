import type { FinishReason } from '../../spec/openai-types.js';

/** Normalises finish reasons of OpenAI look-alikes, some of which invent their own values. */
export function mapOpenAICompatibleFinishReason(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case undefined:
    case null:
      return null;
    case 'stop':
    case 'eos':
    case 'end_turn':
      return 'stop';
    case 'length':
    case 'model_length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}
