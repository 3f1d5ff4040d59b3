import type { ChatCompletionRequest } from '../spec/openai-types.js';

/** Every Chat Completions parameter the gateway understands. */
export const knownChatParameters = new Set([
  'model',
  'messages',
  'temperature',
  'top_p',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'seed',
  'user',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'reasoning_effort',
  'stream',
  'stream_options',
]);

/** Warnings for fields no adapter knows (a client written against a newer API). */
export function unknownParameterWarnings(request: ChatCompletionRequest): string[] {
  return Object.keys(request)
    .filter((name) => !knownChatParameters.has(name) && request[name] !== undefined)
    .map(unknownParameterWarning);
}

export function unknownParameterWarning(name: string): string {
  return `parameter "${name}" is not supported and was ignored`;
}

export function unsupportedWarning(parameter: string, provider: string, detail?: string): string {
  return `parameter "${parameter}" is not supported by ${provider} and was ignored${detail ? ` (${detail})` : ''}`;
}

/** The output cap a client asked for, whichever spelling it used. */
export function requestedMaxTokens(request: ChatCompletionRequest): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens;
}

export function stopSequences(stop: ChatCompletionRequest['stop']): string[] | undefined {
  if (stop === undefined) return undefined;
  return typeof stop === 'string' ? [stop] : stop;
}
