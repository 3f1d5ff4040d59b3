import { type ApiError, apiRequest, errorOf, fetchWithSession, toApiError } from './client';

export interface Conversation {
  id: string;
  title: string;
  model: string | null;
  systemPrompt: string;
  folderId: string | null;
  pinned: boolean;
  activeLeafId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ImageAttachment {
  type: 'image';
  mediaType: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';
  dataUrl: string;
}

export interface StoredMessage {
  id: string;
  parentId: string | null;
  role: 'user' | 'assistant';
  content: string;
  attachments: ImageAttachment[];
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  credits: number;
  status: 'complete' | 'stopped' | 'failed';
  createdAt: string;
}

/** One entry of `GET /v1/models`. Prices are credits per million tokens. */
export interface ModelInfo {
  id: string;
  owned_by: string;
  kind: 'model' | 'alias';
  context_window: number;
  capabilities: string[];
  price?: { inputPerMillion: number; outputPerMillion: number };
}

export async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
  const response = await apiRequest<{ data: ModelInfo[] }>('/v1/models', signal ? { signal } : {});
  // The studio chats; embedding-only models cannot answer.
  return response.data.filter((model) => model.capabilities.includes('chat'));
}

/** One page of the conversation list; `nextCursor` asks for the page after it, null on the last. */
export interface ConversationPage {
  conversations: Conversation[];
  nextCursor: string | null;
}

export async function listConversations(
  search: string,
  signal?: AbortSignal,
  folderId?: string,
  cursor?: string,
): Promise<ConversationPage> {
  const parameters = new URLSearchParams();
  if (search.trim() !== '') parameters.set('search', search.trim());
  if (folderId) parameters.set('folderId', folderId);
  if (cursor) parameters.set('cursor', cursor);
  const query = parameters.size === 0 ? '' : `?${parameters}`;
  return apiRequest<ConversationPage>(`/api/studio/conversations${query}`, signal ? { signal } : {});
}

export async function getConversation(
  id: string,
  signal?: AbortSignal,
): Promise<{ conversation: Conversation; messages: StoredMessage[] }> {
  return apiRequest(`/api/studio/conversations/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

export async function createConversation(options: {
  model: string | null;
  systemPrompt: string;
}): Promise<Conversation> {
  const response = await apiRequest<{ conversation: Conversation }>('/api/studio/conversations', {
    method: 'POST',
    body: options,
  });
  return response.conversation;
}

export async function updateConversation(
  id: string,
  changes: Partial<
    Pick<Conversation, 'title' | 'model' | 'systemPrompt' | 'pinned' | 'activeLeafId' | 'folderId'>
  >,
): Promise<Conversation> {
  const response = await apiRequest<{ conversation: Conversation }>(
    `/api/studio/conversations/${encodeURIComponent(id)}`,
    { method: 'PATCH', body: changes },
  );
  return response.conversation;
}

export async function deleteConversation(id: string): Promise<void> {
  await apiRequest(`/api/studio/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export interface Folder {
  id: string;
  name: string;
  createdAt: string;
}

export async function listFolders(signal?: AbortSignal): Promise<Folder[]> {
  const response = await apiRequest<{ folders: Folder[] }>('/api/studio/folders', signal ? { signal } : {});
  return response.folders;
}

export async function createFolder(name: string): Promise<Folder> {
  const response = await apiRequest<{ folder: Folder }>('/api/studio/folders', {
    method: 'POST',
    body: { name },
  });
  return response.folder;
}

export async function renameFolder(id: string, name: string): Promise<Folder> {
  const response = await apiRequest<{ folder: Folder }>(`/api/studio/folders/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: { name },
  });
  return response.folder;
}

/** Its conversations stay, unfiled. */
export async function deleteFolder(id: string): Promise<void> {
  await apiRequest(`/api/studio/folders/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** A saved model and system prompt, to start conversations the same way again. */
export interface Preset {
  id: string;
  name: string;
  model: string | null;
  systemPrompt: string;
  createdAt: string;
}

export async function listPresets(signal?: AbortSignal): Promise<Preset[]> {
  const response = await apiRequest<{ presets: Preset[] }>('/api/studio/presets', signal ? { signal } : {});
  return response.presets;
}

export async function createPreset(options: {
  name: string;
  model: string | null;
  systemPrompt: string;
}): Promise<Preset> {
  const response = await apiRequest<{ preset: Preset }>('/api/studio/presets', {
    method: 'POST',
    body: options,
  });
  return response.preset;
}

export async function deletePreset(id: string): Promise<void> {
  await apiRequest(`/api/studio/presets/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export interface NewMessage {
  parentId: string | null;
  role: 'user' | 'assistant';
  content: string;
  attachments?: ImageAttachment[];
  model?: string | null;
  requestId?: string;
  status?: StoredMessage['status'];
  usage?: { inputTokens: number; outputTokens: number; credits: number };
}

export async function addMessage(conversationId: string, message: NewMessage): Promise<StoredMessage> {
  const response = await apiRequest<{ message: StoredMessage }>(
    `/api/studio/conversations/${encodeURIComponent(conversationId)}/messages`,
    { method: 'POST', body: message },
  );
  return response.message;
}

export type ExportFormat = 'markdown' | 'json' | 'pdf';

function exportUrl(conversationId: string, format: ExportFormat): string {
  return `/api/studio/conversations/${encodeURIComponent(conversationId)}/export?format=${format}`;
}

const exportExtensions: Record<ExportFormat, string> = { markdown: 'md', json: 'json', pdf: 'pdf' };

/**
 * Downloads an export under the name the server gives it. Fetched rather than linked, so a refusal (one export at a
 * time: 429; the server busy rendering others: 503; a deleted conversation: 404) is an `ApiError` the page explains,
 * not a JSON file saved as the export.
 */
export async function downloadExport(conversationId: string, format: ExportFormat): Promise<void> {
  const response = await fetchWithSession(exportUrl(conversationId, format));
  if (!response.ok) throw await errorOf(response);
  const file = await response.blob();
  const name =
    /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ??
    `conversation.${exportExtensions[format]}`;
  const url = URL.createObjectURL(file);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled; the URL is let go a little later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

type ChatContent =
  | string
  | Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } }>;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent;
}

export interface StreamedAnswer {
  content: string;
  requestId: string | undefined;
  usage: { inputTokens: number; outputTokens: number; credits: number } | undefined;
  status: 'complete' | 'stopped' | 'failed';
  /** Why a started stream broke off (the provider's error), when `status` is `failed`. */
  error?: ApiError;
}

/**
 * Streams an answer from `/v1/chat/completions` with the session cookie, handing each text delta to `onDelta`
 * as soon as its SSE event is parsed. A refusal before the stream starts (402 insufficient_credits, 429...)
 * throws an ApiError; a stream that breaks off or is aborted resolves with what arrived and its status.
 */
export async function streamChat(options: {
  model: string;
  messages: ChatMessage[];
  signal: AbortSignal;
  onDelta: (text: string) => void;
}): Promise<StreamedAnswer> {
  let response: Response;
  try {
    response = await fetchWithSession('/v1/chat/completions', {
      method: 'POST',
      signal: options.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        model: options.model,
        messages: options.messages,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') {
      return { content: '', requestId: undefined, usage: undefined, status: 'stopped' };
    }
    throw cause;
  }
  if (!response.ok || !response.body) throw await errorOf(response);

  const answer: StreamedAnswer = {
    content: '',
    requestId: response.headers.get('x-request-id') ?? undefined,
    usage: undefined,
    status: 'failed',
  };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let boundary = buffer.indexOf('\n\n');
      while (boundary !== -1) {
        const event = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        for (const line of event.split('\n')) {
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') {
            answer.status = 'complete';
            continue;
          }
          const parsed = JSON.parse(data) as {
            choices?: Array<{ delta?: { content?: string | null } }>;
            usage?: { prompt_tokens: number; completion_tokens: number; webox_credits?: number } | null;
            error?: unknown;
          };
          if (parsed.error) {
            answer.error = toApiError(502, parsed);
            continue;
          }
          const delta = parsed.choices?.[0]?.delta?.content;
          if (delta) {
            answer.content += delta;
            options.onDelta(delta);
          }
          if (parsed.usage) {
            answer.usage = {
              inputTokens: parsed.usage.prompt_tokens,
              outputTokens: parsed.usage.completion_tokens,
              credits: parsed.usage.webox_credits ?? 0,
            };
          }
        }
      }
    }
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') answer.status = 'stopped';
    else answer.status = 'failed';
  }
  return answer;
}
