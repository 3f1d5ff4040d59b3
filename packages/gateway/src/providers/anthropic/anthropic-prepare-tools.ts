import { unsupportedWarning } from '../../provider-utils/request-parameters.js';
import type { ChatCompletionRequest } from '../../spec/openai-types.js';

/** Name of the tool the gateway forces to get JSON out of Anthropic, which has no JSON mode. */
export const jsonToolName = 'json';

export interface AnthropicTools {
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>;
  tool_choice?: Record<string, unknown>;
  /** True when `response_format` was turned into the forced JSON tool. */
  usesJsonTool: boolean;
  warnings: string[];
}

export function prepareAnthropicTools(request: ChatCompletionRequest): AnthropicTools {
  const warnings: string[] = [];
  const format = request.response_format;
  const wantsJson = format?.type === 'json_object' || format?.type === 'json_schema';
  const hasTools = (request.tools?.length ?? 0) > 0 && request.tool_choice !== 'none';

  if (wantsJson && !hasTools) {
    const schema =
      format.type === 'json_schema' && format.json_schema.schema
        ? format.json_schema.schema
        : { type: 'object' };
    const description =
      format.type === 'json_schema' && format.json_schema.description
        ? format.json_schema.description
        : 'Respond with a JSON object.';
    return {
      tools: [{ name: jsonToolName, description, input_schema: schema }],
      tool_choice: { type: 'tool', name: jsonToolName },
      usesJsonTool: true,
      warnings,
    };
  }
  if (wantsJson)
    warnings.push(unsupportedWarning('response_format', 'anthropic', 'it cannot be combined with tools'));
  if (!request.tools || request.tools.length === 0) return { usesJsonTool: false, warnings };

  const tools = request.tools.map((tool) => ({
    name: tool.function.name,
    ...(tool.function.description ? { description: tool.function.description } : {}),
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
  }));
  const disableParallel = request.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  const choice = request.tool_choice;
  let toolChoice: Record<string, unknown> | undefined;
  if (choice === 'none') toolChoice = { type: 'none' };
  else if (choice === 'required') toolChoice = { type: 'any', ...disableParallel };
  else if (typeof choice === 'object')
    toolChoice = { type: 'tool', name: choice.function.name, ...disableParallel };
  else if (choice === 'auto' || request.parallel_tool_calls === false)
    toolChoice = { type: 'auto', ...disableParallel };
  return { tools, ...(toolChoice ? { tool_choice: toolChoice } : {}), usesJsonTool: false, warnings };
}
