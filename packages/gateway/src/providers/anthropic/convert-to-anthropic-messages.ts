import { contentText, parseDataUrl, parseToolArguments } from '../../provider-utils/parse-json.js';
import { invalidRequest } from '../../spec/gateway-error.js';
import type { ChatMessage } from '../../spec/openai-types.js';

export type AnthropicBlock = Record<string, unknown> & { type: string };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

export interface AnthropicPrompt {
  system?: Array<{ type: 'text'; text: string }>;
  messages: AnthropicMessage[];
}

function imageBlock(url: string): AnthropicBlock {
  const data = parseDataUrl(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.data } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalidRequest('Image URLs must be https URLs or base64 data URLs', 'messages');
}

/**
 * OpenAI messages to Anthropic's: system messages move to the top-level `system`, tool results become
 * `tool_result` blocks in a user turn, and consecutive turns of one role merge (Anthropic wants the
 * results of parallel tool calls together in the user turn right after the calls).
 */
export function convertToAnthropicMessages(messages: ChatMessage[]): AnthropicPrompt {
  const system: Array<{ type: 'text'; text: string }> = [];
  const converted: AnthropicMessage[] = [];
  const append = (role: 'user' | 'assistant', blocks: AnthropicBlock[]) => {
    if (blocks.length === 0) return;
    const last = converted.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else converted.push({ role, content: blocks });
  };

  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = contentText(message.content);
        if (text) system.push({ type: 'text', text });
        break;
      }
      case 'user': {
        if (typeof message.content === 'string') {
          append('user', [{ type: 'text', text: message.content }]);
          break;
        }
        append(
          'user',
          message.content.map((part) =>
            part.type === 'text' ? { type: 'text', text: part.text } : imageBlock(part.image_url.url),
          ),
        );
        break;
      }
      case 'assistant': {
        const blocks: AnthropicBlock[] = [];
        const text = contentText(message.content);
        if (text) blocks.push({ type: 'text', text });
        for (const toolCall of message.tool_calls ?? []) {
          blocks.push({
            type: 'tool_use',
            id: toolCall.id,
            name: toolCall.function.name,
            input: parseToolArguments(toolCall.function.arguments),
          });
        }
        append('assistant', blocks);
        break;
      }
      case 'tool': {
        append('user', [
          { type: 'tool_result', tool_use_id: message.tool_call_id, content: contentText(message.content) },
        ]);
        break;
      }
    }
  }
  return { ...(system.length > 0 ? { system } : {}), messages: converted };
}
