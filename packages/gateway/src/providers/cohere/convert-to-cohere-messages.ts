import { contentText } from '../../provider-utils/parse-json.js';
import type { ChatMessage } from '../../spec/openai-types.js';

/**
 * OpenAI messages to Cohere v2 chat messages. The shapes are close: Cohere takes the same roles,
 * `tool_calls` and `tool_call_id`; `developer` becomes `system`, and an assistant turn with tool calls
 * leaves out empty content (Cohere rejects it).
 */
export function convertToCohereMessages(messages: ChatMessage[]): Array<Record<string, unknown>> {
  return messages.map((message) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: contentText(message.content) };
      case 'user':
        return {
          role: 'user',
          content:
            typeof message.content === 'string'
              ? message.content
              : message.content.map((part) =>
                  part.type === 'text'
                    ? { type: 'text', text: part.text }
                    : { type: 'image_url', image_url: { url: part.image_url.url } },
                ),
        };
      case 'assistant': {
        const text = contentText(message.content);
        return {
          role: 'assistant',
          ...(text ? { content: text } : {}),
          ...(message.tool_calls && message.tool_calls.length > 0
            ? {
                tool_calls: message.tool_calls.map((toolCall) => ({
                  id: toolCall.id,
                  type: 'function',
                  function: { name: toolCall.function.name, arguments: toolCall.function.arguments },
                })),
              }
            : {}),
        };
      }
      default:
        return { role: 'tool', tool_call_id: message.tool_call_id, content: contentText(message.content) };
    }
  });
}
