import { classifyMediaPart } from '../../provider-utils/media-part.js';
import { contentText, parseDataUrl, parseToolArguments } from '../../provider-utils/parse-json.js';
import { invalidRequest } from '../../spec/gateway-error.js';
import type { MediaPart } from '../../spec/media-part.js';
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

/** The media types Anthropic's image block takes ("Images and vision", supported formats). */
const imageMediaTypes = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/**
 * The block an image_url part goes to Anthropic as, from what it carries (`classifyMediaPart`): a PDF as a `document`
 * ("PDF support": base64 or by URL), an image of a type the `image` block takes, or a link naming no known type as an
 * `image` (Anthropic fetches it, and refuses and bills nothing if it is not one). Undefined for anything else it
 * cannot take (audio, video, text, another type): refused before any provider is called.
 */
export function anthropicBlockType(part: MediaPart): 'image' | 'document' | undefined {
  if (part.kind === 'document') return 'document';
  if (imageMediaTypes.has(part.mediaType.toLowerCase())) return 'image';
  return !part.inline && part.kind === 'unknown' ? 'image' : undefined;
}

function mediaBlock(url: string): AnthropicBlock {
  const part = classifyMediaPart(url);
  const type = anthropicBlockType(part);
  if (type === undefined) {
    throw invalidRequest(
      `Claude takes images (JPEG, PNG, GIF or WebP) and PDFs in image_url parts, not ${part.mediaType.slice(0, 100)}`,
      'messages',
    );
  }
  const data = parseDataUrl(url);
  if (data)
    return { type, source: { type: 'base64', media_type: part.mediaType.toLowerCase(), data: data.data } };
  if (/^https?:\/\//i.test(url)) return { type, source: { type: 'url', url } };
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
            part.type === 'text' ? { type: 'text', text: part.text } : mediaBlock(part.image_url.url),
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
