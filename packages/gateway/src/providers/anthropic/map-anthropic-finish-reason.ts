import type { FinishReason } from '../../spec/openai-types.js';

/**
 * Anthropic stop reasons in OpenAI terms. When the gateway forced its JSON tool, a `tool_use` stop is
 * a normal end of the JSON answer, not a tool call for the client.
 */
export function mapAnthropicFinishReason(
  reason: string | null | undefined,
  usedJsonTool: boolean,
): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return usedJsonTool ? 'stop' : 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}
