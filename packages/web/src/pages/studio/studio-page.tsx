import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type FormEvent, type KeyboardEvent, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import {
  addMessage,
  type ChatMessage,
  type Conversation,
  createConversation,
  downloadExport,
  type ExportFormat,
  getConversation,
  type ImageAttachment,
  listModels,
  type ModelInfo,
  type StoredMessage,
  streamChat,
  updateConversation,
} from '../../api/studio';
import {
  ErrorAlert,
  primaryButtonClass,
  secondaryButtonClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatNumber } from '../../components/use-format-number';
import { balanceQueryKey } from '../../session/use-session';
import { latestLeafFrom, pathTo, siblingsOf } from './branches';
import { ConversationSidebar } from './conversation-sidebar';
import { Markdown } from './markdown';
import { PresetControls } from './preset-controls';

const conversationKey = (id: string) => ['studio', 'conversation', id] as const;
const conversationsKey = ['studio', 'conversations'] as const;

/** Images sent to vision models are read in the browser and sent inline; larger ones are refused up front. */
const MAX_IMAGE_BYTES = 1_000_000;
const MAX_IMAGES = 4;

interface Streaming {
  conversationId: string;
  /** The question being answered (already stored). */
  parentId: string;
  text: string;
}

type ConversationData = { conversation: Conversation; messages: StoredMessage[] };

function toChatMessages(systemPrompt: string, branch: StoredMessage[]): ChatMessage[] {
  const messages: ChatMessage[] = systemPrompt.trim() ? [{ role: 'system', content: systemPrompt }] : [];
  for (const message of branch) {
    if (message.attachments.length === 0) messages.push({ role: message.role, content: message.content });
    else {
      messages.push({
        role: message.role,
        content: [
          { type: 'text', text: message.content },
          ...message.attachments.map((image) => ({
            type: 'image_url' as const,
            image_url: { url: image.dataUrl },
          })),
        ],
      });
    }
  }
  return messages;
}

function readImage(file: File): Promise<ImageAttachment> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () =>
      resolve({
        type: 'image',
        mediaType: file.type as ImageAttachment['mediaType'],
        dataUrl: String(reader.result),
      });
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export function StudioPage({ conversationId }: { conversationId: string | undefined }) {
  const { t } = useTranslation();
  useDocumentTitle(t('studio.title'));
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const explain = useErrorMessage();
  const exporting = useMutation({
    mutationFn: (options: { conversationId: string; format: ExportFormat }) =>
      downloadExport(options.conversationId, options.format),
  });
  const explainExportError = (error: unknown) => {
    if (error instanceof ApiError && error.code === 'rate_limited') return t('studio.exportBusy');
    if (error instanceof ApiError && error.code === 'service_unavailable')
      return t('studio.exportServerBusy');
    return explain(error);
  };
  const formatNumber = useFormatNumber();

  const models = useQuery({
    queryKey: ['models'],
    queryFn: ({ signal }) => listModels(signal),
    staleTime: 300_000,
  });
  const current = useQuery({
    queryKey: conversationKey(conversationId ?? 'none'),
    queryFn: ({ signal }) => getConversation(conversationId!, signal),
    enabled: Boolean(conversationId),
  });
  const data = conversationId ? current.data : undefined;

  const [model, setModel] = useState<string>('');
  const [systemPrompt, setSystemPrompt] = useState('');
  const [draft, setDraft] = useState('');
  const [images, setImages] = useState<ImageAttachment[]>([]);
  const [streaming, setStreaming] = useState<Streaming>();
  const [failure, setFailure] = useState<unknown>();
  const [editing, setEditing] = useState<{ id: string; text: string }>();
  const abortRef = useRef<AbortController | undefined>(undefined);
  const composerId = useId();
  const modelSelectId = useId();
  const systemPromptId = useId();

  // A conversation brings back its own model and system prompt; a new chat keeps the last choice.
  const loaded = data?.conversation;
  // biome-ignore lint/correctness/useExhaustiveDependencies: only when another conversation is opened, not on each save.
  useEffect(() => {
    if (!loaded) return;
    if (loaded.model) setModel(loaded.model);
    setSystemPrompt(loaded.systemPrompt);
  }, [loaded?.id]);
  useEffect(() => {
    if (!model && models.data?.[0]) setModel(models.data[0].id);
  }, [model, models.data]);
  // Leaving a conversation mid-answer stops paying for an answer nobody reads.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the reaction is to the conversation changing.
  useEffect(() => () => abortRef.current?.abort(), [conversationId]);

  const selectedModel = models.data?.find((entry) => entry.id === model);
  const acceptsImages = selectedModel?.capabilities.includes('vision') ?? false;
  const messages = data?.messages ?? [];
  const branch = pathTo(messages, data?.conversation.activeLeafId ?? null);
  const busy = streaming !== undefined;

  function setConversationData(id: string, update: (previous: ConversationData) => ConversationData) {
    queryClient.setQueryData<ConversationData>(conversationKey(id), (previous) =>
      previous ? update(previous) : previous,
    );
  }

  /** Asks the model to answer `question` (already stored) given the branch that leads to it. */
  async function answer(conversationIdToUse: string, history: StoredMessage[], question: StoredMessage) {
    const controller = new AbortController();
    abortRef.current = controller;
    setFailure(undefined);
    setStreaming({ conversationId: conversationIdToUse, parentId: question.id, text: '' });
    try {
      const streamed = await streamChat({
        model,
        messages: toChatMessages(systemPrompt, [...history, question]),
        signal: controller.signal,
        onDelta: (delta) => setStreaming((state) => (state ? { ...state, text: state.text + delta } : state)),
      });
      if (streamed.error) setFailure(streamed.error);
      if (streamed.content !== '' || streamed.status === 'complete') {
        const stored = await addMessage(conversationIdToUse, {
          parentId: question.id,
          role: 'assistant',
          content: streamed.content,
          model,
          status: streamed.status,
          ...(streamed.requestId ? { requestId: streamed.requestId } : {}),
          ...(streamed.usage ? { usage: streamed.usage } : {}),
        });
        setConversationData(conversationIdToUse, (previous) => ({
          conversation: { ...previous.conversation, activeLeafId: stored.id },
          messages: [...previous.messages, stored],
        }));
      }
    } catch (error) {
      setFailure(error);
    } finally {
      abortRef.current = undefined;
      setStreaming(undefined);
      void queryClient.invalidateQueries({ queryKey: conversationsKey });
      void queryClient.invalidateQueries({ queryKey: balanceQueryKey });
    }
  }

  /** Stores a question after `parentId` (a new branch when that parent already has one) and answers it. */
  async function ask(parentId: string | null, content: string, attachments: ImageAttachment[]) {
    setFailure(undefined);
    let id = conversationId;
    try {
      if (!id) {
        const created = await createConversation({ model: model || null, systemPrompt });
        id = created.id;
        queryClient.setQueryData<ConversationData>(conversationKey(id), {
          conversation: created,
          messages: [],
        });
        await navigate({ to: '/studio', search: { c: id } });
      }
      const question = await addMessage(id, { parentId, role: 'user', content, attachments });
      const existing = queryClient.getQueryData<ConversationData>(conversationKey(id));
      const history = pathTo(existing?.messages ?? [], parentId);
      setConversationData(id, (previous) => ({
        conversation: { ...previous.conversation, activeLeafId: question.id },
        messages: [...previous.messages, question],
      }));
      await answer(id, history, question);
    } catch (error) {
      setFailure(error);
    }
  }

  function onSubmit(event?: FormEvent) {
    event?.preventDefault();
    const content = draft.trim();
    if (busy || !model || (content === '' && images.length === 0)) return;
    setDraft('');
    setImages([]);
    void ask(branch.at(-1)?.id ?? null, content, images);
  }

  function onComposerKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends, Shift+Enter adds a line: the convention of every chat people already use.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      onSubmit();
    }
  }

  function regenerate(assistantMessage: StoredMessage) {
    if (!conversationId || busy) return;
    const question = messages.find((message) => message.id === assistantMessage.parentId);
    if (!question) return;
    void answer(conversationId, pathTo(messages, question.parentId), question);
  }

  async function showVersion(message: StoredMessage) {
    if (!conversationId || busy) return;
    const leaf = latestLeafFrom(messages, message);
    setConversationData(conversationId, (previous) => ({
      ...previous,
      conversation: { ...previous.conversation, activeLeafId: leaf.id },
    }));
    try {
      await updateConversation(conversationId, { activeLeafId: leaf.id });
    } catch (error) {
      setFailure(error);
    }
  }

  async function saveSettings(changes: { model?: string; systemPrompt?: string }) {
    if (!conversationId) return;
    try {
      const updated = await updateConversation(conversationId, changes);
      setConversationData(conversationId, (previous) => ({ ...previous, conversation: updated }));
    } catch (error) {
      setFailure(error);
    }
  }

  async function addImages(files: FileList | null) {
    if (!files) return;
    const accepted = [...files].filter(
      (file) => /^image\/(png|jpeg|webp|gif)$/.test(file.type) && file.size <= MAX_IMAGE_BYTES,
    );
    if (accepted.length < files.length)
      setFailure(new ApiError({ code: 'image_rejected', message: '', status: 0 }));
    const read = await Promise.all(accepted.map(readImage));
    setImages((previous) => [...previous, ...read].slice(0, MAX_IMAGES));
  }

  const outOfCredits =
    failure instanceof ApiError && (failure.status === 402 || failure.code === 'insufficient_credits');
  const imageRejected = failure instanceof ApiError && failure.code === 'image_rejected';
  // Storing a message is the only call here that meets these: the conversation's message or byte limit (or, for
  // 413, a message over the body limit).
  const conversationFull =
    failure instanceof ApiError && (failure.code === 'conflict' || failure.code === 'payload_too_large');

  return (
    <div className="flex flex-col gap-4 lg:flex-row">
      <ConversationSidebar activeId={conversationId} busy={busy} />
      <section aria-labelledby="studio-title" className="flex min-w-0 flex-1 flex-col gap-4">
        <h1 id="studio-title" className="sr-only">
          {t('studio.title')}
        </h1>
        <div className="flex flex-col gap-3 rounded-lg border border-slate-200 p-3 dark:border-slate-800">
          <div className="flex flex-col gap-1.5">
            <label htmlFor={modelSelectId} className="text-sm font-medium">
              {t('studio.model')}
            </label>
            <select
              id={modelSelectId}
              data-testid="model-picker"
              value={model}
              disabled={busy || !models.data}
              onChange={(event) => {
                setModel(event.target.value);
                void saveSettings({ model: event.target.value });
              }}
              className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
            >
              {models.data?.map((entry) => (
                <option key={entry.id} value={entry.id}>
                  {modelLabel(entry)}
                </option>
              ))}
            </select>
            {/* Without a model nothing can be sent: say why, rather than leave a silent, disabled send button. */}
            {models.isPending && (
              <p
                role="status"
                data-testid="models-loading"
                className="text-sm text-slate-600 dark:text-slate-400"
              >
                {t('studio.modelsLoading')}
              </p>
            )}
            {/* A failed refetch keeps the list it had: that one still works, so no alarm then. */}
            {models.isError && !models.data && (
              <ErrorAlert testId="models-error">
                <p>{explain(models.error)}</p>
                <button
                  type="button"
                  data-testid="models-retry"
                  onClick={() => void models.refetch()}
                  className={`mt-2 ${secondaryButtonClass}`}
                >
                  {t('studio.modelsRetry')}
                </button>
              </ErrorAlert>
            )}
            {models.data?.length === 0 && (
              <p role="status" data-testid="no-models" className="text-sm text-slate-600 dark:text-slate-400">
                {t('studio.noModels')}
              </p>
            )}
            {selectedModel && (
              <p data-testid="model-details" className="text-sm text-slate-600 dark:text-slate-400">
                {t('studio.modelDetails', {
                  provider: selectedModel.owned_by,
                  contextWindow: formatNumber(selectedModel.context_window),
                })}{' '}
                {selectedModel.price &&
                  t('studio.modelPrice', {
                    input: formatNumber(selectedModel.price.inputPerMillion),
                    output: formatNumber(selectedModel.price.outputPerMillion),
                  })}
              </p>
            )}
          </div>
          <details className="group">
            <summary className="cursor-pointer text-sm font-medium">{t('studio.systemPrompt')}</summary>
            <div className="mt-2 flex flex-col gap-1.5">
              <label htmlFor={systemPromptId} className="sr-only">
                {t('studio.systemPrompt')}
              </label>
              <textarea
                id={systemPromptId}
                data-testid="system-prompt"
                rows={3}
                value={systemPrompt}
                placeholder={t('studio.systemPromptPlaceholder')}
                onChange={(event) => setSystemPrompt(event.target.value)}
                onBlur={() => {
                  if (data && systemPrompt !== data.conversation.systemPrompt)
                    void saveSettings({ systemPrompt });
                }}
                className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
              />
            </div>
          </details>
          <PresetControls
            model={model}
            systemPrompt={systemPrompt}
            disabled={busy}
            onApply={(preset) => {
              // A preset naming a model this server no longer routes keeps the current model.
              const usable = preset.model && models.data?.some((entry) => entry.id === preset.model);
              if (usable) setModel(preset.model!);
              setSystemPrompt(preset.systemPrompt);
              void saveSettings({
                ...(usable ? { model: preset.model! } : {}),
                systemPrompt: preset.systemPrompt,
              });
            }}
          />
          {conversationId && data && (
            <nav aria-label={t('studio.export')} className="flex flex-wrap items-center gap-2 text-sm">
              <span className="font-medium">{t('studio.export')}</span>
              {(['markdown', 'json', 'pdf'] as const).map((format) => (
                <button
                  key={format}
                  type="button"
                  disabled={exporting.isPending}
                  onClick={() => exporting.mutate({ conversationId, format })}
                  data-testid={`export-${format}`}
                  className="rounded-md border border-slate-300 px-2 py-1 hover:bg-slate-100 disabled:opacity-60 dark:border-slate-600 dark:hover:bg-slate-800"
                >
                  {t(`studio.exportFormats.${format}`)}
                </button>
              ))}
              {exporting.isPending && (
                <span role="status" className="text-slate-600 dark:text-slate-400">
                  {t('studio.exportPreparing')}
                </span>
              )}
            </nav>
          )}
          {exporting.isError && (
            <ErrorAlert testId="export-error">{explainExportError(exporting.error)}</ErrorAlert>
          )}
        </div>

        {current.isError && <ErrorAlert testId="conversation-error">{explain(current.error)}</ErrorAlert>}

        <ol
          data-testid="messages"
          aria-busy={busy}
          aria-label={t('studio.messages')}
          className="flex min-h-40 flex-col gap-4"
        >
          {branch.length === 0 && !busy && (
            <li className="rounded-lg border border-dashed border-slate-300 p-6 text-center text-slate-600 dark:border-slate-700 dark:text-slate-400">
              {t('studio.empty')}
            </li>
          )}
          {branch.map((message) => {
            const versions = siblingsOf(messages, message);
            const index = versions.findIndex((version) => version.id === message.id);
            const isEditing = editing?.id === message.id;
            return (
              <li
                key={message.id}
                data-testid={`message-${message.role}`}
                className={
                  message.role === 'user'
                    ? 'ms-auto max-w-[85%] rounded-lg bg-indigo-50 px-4 py-3 dark:bg-indigo-950'
                    : 'max-w-full rounded-lg border border-slate-200 px-4 py-3 dark:border-slate-800'
                }
              >
                <p className="mb-1 text-xs font-semibold text-slate-600 dark:text-slate-400">
                  {message.role === 'user' ? t('studio.you') : (message.model ?? t('studio.assistant'))}
                </p>
                {isEditing ? (
                  <form
                    className="flex flex-col gap-2"
                    onSubmit={(event) => {
                      event.preventDefault();
                      const text = editing.text.trim();
                      if (text === '') return;
                      setEditing(undefined);
                      void ask(message.parentId, text, message.attachments);
                    }}
                  >
                    <label htmlFor={`edit-${message.id}`} className="sr-only">
                      {t('studio.editMessage')}
                    </label>
                    <textarea
                      id={`edit-${message.id}`}
                      data-testid="edit-text"
                      rows={3}
                      value={editing.text}
                      onChange={(event) => setEditing({ id: message.id, text: event.target.value })}
                      className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
                    />
                    <div className="flex gap-2">
                      <button type="submit" data-testid="edit-save" className={primaryButtonClass}>
                        {t('studio.saveAndSend')}
                      </button>
                      <button
                        type="button"
                        className={secondaryButtonClass}
                        onClick={() => setEditing(undefined)}
                      >
                        {t('studio.cancel')}
                      </button>
                    </div>
                  </form>
                ) : message.role === 'user' ? (
                  <>
                    <p dir="auto" className="whitespace-pre-wrap break-words">
                      {message.content}
                    </p>
                    {message.attachments.length > 0 && (
                      <div className="mt-2 flex flex-wrap gap-2">
                        {message.attachments.map((image, position) => (
                          <img
                            // biome-ignore lint/suspicious/noArrayIndexKey: attachments never reorder.
                            key={position}
                            src={image.dataUrl}
                            alt={t('studio.attachedImage', { number: position + 1 })}
                            className="size-24 rounded object-cover"
                          />
                        ))}
                      </div>
                    )}
                  </>
                ) : (
                  <div dir="auto">
                    <Markdown text={message.content} />
                  </div>
                )}
                <div className="mt-2 flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-slate-600 dark:text-slate-400">
                  {versions.length > 1 && (
                    <span className="flex items-center gap-1" data-testid="versions">
                      <button
                        type="button"
                        disabled={busy || index <= 0}
                        onClick={() => void showVersion(versions[index - 1]!)}
                        className="rounded px-1.5 hover:bg-slate-100 disabled:opacity-40 dark:hover:bg-slate-800"
                        aria-label={t('studio.previousVersion')}
                      >
                        <span aria-hidden="true" className="rtl:hidden">
                          ‹
                        </span>
                        <span aria-hidden="true" className="ltr:hidden">
                          ›
                        </span>
                      </button>
                      {t('studio.version', { current: index + 1, total: versions.length })}
                      <button
                        type="button"
                        disabled={busy || index >= versions.length - 1}
                        onClick={() => void showVersion(versions[index + 1]!)}
                        className="rounded px-1.5 hover:bg-slate-100 disabled:opacity-40 dark:hover:bg-slate-800"
                        aria-label={t('studio.nextVersion')}
                      >
                        <span aria-hidden="true" className="rtl:hidden">
                          ›
                        </span>
                        <span aria-hidden="true" className="ltr:hidden">
                          ‹
                        </span>
                      </button>
                    </span>
                  )}
                  {message.role === 'assistant' && (
                    <span data-testid="answer-cost">
                      {t('studio.cost', {
                        credits: formatNumber(message.credits),
                        input: formatNumber(message.inputTokens),
                        output: formatNumber(message.outputTokens),
                      })}
                      {message.status !== 'complete' && ` · ${t(`studio.status.${message.status}`)}`}
                    </span>
                  )}
                  {message.role === 'user' && !isEditing && (
                    <button
                      type="button"
                      data-testid="edit-message"
                      disabled={busy}
                      onClick={() => setEditing({ id: message.id, text: message.content })}
                      className="rounded px-1.5 font-medium text-indigo-700 hover:bg-indigo-100 disabled:opacity-40 dark:text-indigo-300 dark:hover:bg-slate-800"
                    >
                      {t('studio.edit')}
                    </button>
                  )}
                  {message.role === 'assistant' && message.id === branch.at(-1)?.id && (
                    <button
                      type="button"
                      data-testid="regenerate"
                      disabled={busy}
                      onClick={() => regenerate(message)}
                      className="rounded px-1.5 font-medium text-indigo-700 hover:bg-indigo-100 disabled:opacity-40 dark:text-indigo-300 dark:hover:bg-slate-800"
                    >
                      {t('studio.regenerate')}
                    </button>
                  )}
                </div>
              </li>
            );
          })}
          {streaming && streaming.conversationId === conversationId && (
            <li
              data-testid="streaming-answer"
              className="max-w-full rounded-lg border border-slate-200 px-4 py-3 dark:border-slate-800"
            >
              <p className="mb-1 text-xs font-semibold text-slate-600 dark:text-slate-400">{model}</p>
              {streaming.text === '' ? (
                <p className="text-slate-600 dark:text-slate-400">{t('studio.thinking')}</p>
              ) : (
                <Markdown text={streaming.text} />
              )}
            </li>
          )}
        </ol>

        {outOfCredits && (
          <div
            role="alert"
            data-testid="insufficient-credits"
            className="flex flex-col gap-2 rounded-md border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
          >
            <p className="font-semibold">{t('studio.noCredits.title')}</p>
            <p>{t('studio.noCredits.body')}</p>
            <Link
              to="/credits"
              data-testid="top-up-link"
              className="font-medium underline underline-offset-4"
            >
              {t('studio.noCredits.topUp')}
            </Link>
            <Link
              to="/credits/buy"
              data-testid="buy-credits-link"
              className="font-medium underline underline-offset-4"
            >
              {t('payments.buyLink')}
            </Link>
          </div>
        )}
        {imageRejected && <ErrorAlert testId="image-error">{t('studio.imageRejected')}</ErrorAlert>}
        {conversationFull && (
          <ErrorAlert testId="conversation-full">
            {t(
              (failure as ApiError).code === 'conflict'
                ? 'studio.conversationFull'
                : 'studio.messageTooLarge',
            )}
          </ErrorAlert>
        )}
        {failure !== undefined && !outOfCredits && !imageRejected && !conversationFull && (
          <ErrorAlert testId="studio-error">{explain(failure)}</ErrorAlert>
        )}

        <form onSubmit={onSubmit} className="flex flex-col gap-2" data-testid="composer">
          <label htmlFor={composerId} className="sr-only">
            {t('studio.composer')}
          </label>
          <textarea
            id={composerId}
            data-testid="composer-input"
            rows={3}
            value={draft}
            placeholder={t('studio.composerPlaceholder')}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onComposerKeyDown}
            className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
          />
          {images.length > 0 && (
            <ul className="flex flex-wrap gap-2" aria-label={t('studio.attachments')}>
              {images.map((image, position) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the list only grows or is emptied.
                <li key={position} className="relative">
                  <img
                    src={image.dataUrl}
                    alt={t('studio.attachedImage', { number: position + 1 })}
                    className="size-16 rounded object-cover"
                  />
                  <button
                    type="button"
                    onClick={() => setImages((previous) => previous.filter((_, other) => other !== position))}
                    className="absolute -end-2 -top-2 rounded-full bg-slate-800 px-1.5 text-xs text-white"
                    aria-label={t('studio.removeImage', { number: position + 1 })}
                  >
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div className="flex flex-wrap items-center gap-2">
            {busy ? (
              <button
                type="button"
                data-testid="stop"
                onClick={() => abortRef.current?.abort()}
                className={secondaryButtonClass}
              >
                {t('studio.stop')}
              </button>
            ) : (
              <button type="submit" data-testid="send" disabled={!model} className={primaryButtonClass}>
                {t('studio.send')}
              </button>
            )}
            {acceptsImages && (
              <label className={`cursor-pointer ${secondaryButtonClass}`}>
                {t('studio.attachImage')}
                <input
                  type="file"
                  accept="image/png,image/jpeg,image/webp,image/gif"
                  multiple
                  className="sr-only"
                  data-testid="attach-image"
                  onChange={(event) => {
                    void addImages(event.target.files);
                    event.target.value = '';
                  }}
                />
              </label>
            )}
            <span className="text-xs text-slate-600 dark:text-slate-400">{t('studio.composerHint')}</span>
          </div>
        </form>
      </section>
    </div>
  );

  function modelLabel(entry: ModelInfo): string {
    return `${entry.id} — ${entry.owned_by}`;
  }
}
