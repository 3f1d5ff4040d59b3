import type { FinishReason } from '../../spec/openai-types.js';

export function mapCohereFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    case 'ERROR_TOXIC':
      return 'content_filter';
    default:
      // COMPLETE, STOP_SEQUENCE, and the rarer ERROR / TIMEOUT end the answer as it stands.
      return 'stop';
  }
}
