import { classifyMediaPart } from '../../provider-utils/media-part.js';
import { contentText, parseDataUrl } from '../../provider-utils/parse-json.js';
import type { ChatMessage } from '../../spec/openai-types.js';

export type GeminiPart = Record<string, unknown>;

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiPrompt {
  systemInstruction?: { parts: Array<{ text: string }> };
  contents: GeminiContent[];
}

/**
 * Inline data of any media type (Gemini takes PDFs, audio, video and text as well as images); a link as file data
 * with the media type its extension names. The classification is the one holds count the part by.
 */
function imagePart(url: string): GeminiPart {
  const data = parseDataUrl(url);
  if (data) return { inlineData: { mimeType: data.mediaType, data: data.data } };
  return { fileData: { mimeType: classifyMediaPart(url).mediaType, fileUri: url } };
}

function toolResponse(content: string): unknown {
  try {
    const parsed: unknown = JSON.parse(content);
    return parsed;
  } catch {
    return content;
  }
}

/**
 * OpenAI messages to Gemini contents: assistant is `model`, tool results are `functionResponse` parts
 * in a user turn (named after the call they answer, since Gemini matches by name), and turns of one
 * role merge so roles alternate.
 */
export function convertToGeminiContents(messages: ChatMessage[]): GeminiPrompt {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  const append = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = contentText(message.content);
        if (text) system.push(text);
        break;
      }
      case 'user':
        append(
          'user',
          typeof message.content === 'string'
            ? [{ text: message.content }]
            : message.content.map((part) =>
                part.type === 'text' ? { text: part.text } : imagePart(part.image_url.url),
              ),
        );
        break;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = contentText(message.content);
        if (text) parts.push({ text });
        for (const toolCall of message.tool_calls ?? []) {
          toolNames.set(toolCall.id, toolCall.function.name);
          let args: unknown = {};
          try {
            args = toolCall.function.arguments ? JSON.parse(toolCall.function.arguments) : {};
          } catch {
            args = { _raw: toolCall.function.arguments };
          }
          parts.push({ functionCall: { name: toolCall.function.name, args } });
        }
        append('model', parts);
        break;
      }
      case 'tool': {
        const name = toolNames.get(message.tool_call_id) ?? message.tool_call_id;
        append('user', [
          {
            functionResponse: {
              name,
              response: { name, content: toolResponse(contentText(message.content)) },
            },
          },
        ]);
        break;
      }
    }
  }
  return {
    ...(system.length > 0 ? { systemInstruction: { parts: [{ text: system.join('\n\n') }] } } : {}),
    contents,
  };
}
