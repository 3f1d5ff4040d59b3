import type { ChatCompletionRequest } from '../../spec/openai-types.js';

/**
 * Tools in Cohere's v2 shape (the OpenAI one). Cohere's tool_choice knows only REQUIRED and NONE, so a
 * specific function is expressed by offering only that tool and requiring a call.
 */
export function prepareCohereTools(request: ChatCompletionRequest): {
  tools?: unknown[];
  tool_choice?: 'REQUIRED' | 'NONE';
} {
  if (!request.tools || request.tools.length === 0) return {};
  const choice = request.tool_choice;
  const selected =
    typeof choice === 'object'
      ? request.tools.filter((tool) => tool.function.name === choice.function.name)
      : request.tools;
  const tools = selected.map((tool) => ({
    type: 'function',
    function: {
      name: tool.function.name,
      ...(tool.function.description ? { description: tool.function.description } : {}),
      parameters: tool.function.parameters ?? { type: 'object', properties: {} },
    },
  }));
  if (choice === 'required' || typeof choice === 'object') return { tools, tool_choice: 'REQUIRED' };
  if (choice === 'none') return { tools, tool_choice: 'NONE' };
  return { tools };
}
