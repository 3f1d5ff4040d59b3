import type { ChatCompletionRequest } from '../../spec/openai-types.js';
import { convertJsonSchemaToGemini, isEmptyObjectSchema } from './convert-json-schema-to-gemini.js';

export function prepareGeminiTools(request: ChatCompletionRequest): {
  tools?: Array<{ functionDeclarations: Array<Record<string, unknown>> }>;
  toolConfig?: { functionCallingConfig: Record<string, unknown> };
} {
  if (!request.tools || request.tools.length === 0) return {};
  const functionDeclarations = request.tools.map((tool) => ({
    name: tool.function.name,
    ...(tool.function.description ? { description: tool.function.description } : {}),
    ...(isEmptyObjectSchema(tool.function.parameters)
      ? {}
      : { parameters: convertJsonSchemaToGemini(tool.function.parameters) }),
  }));
  const choice = request.tool_choice;
  let functionCallingConfig: Record<string, unknown> | undefined;
  if (choice === 'auto') functionCallingConfig = { mode: 'AUTO' };
  else if (choice === 'none') functionCallingConfig = { mode: 'NONE' };
  else if (choice === 'required') functionCallingConfig = { mode: 'ANY' };
  else if (typeof choice === 'object') {
    functionCallingConfig = { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  }
  return {
    tools: [{ functionDeclarations }],
    ...(functionCallingConfig ? { toolConfig: { functionCallingConfig } } : {}),
  };
}
