import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useDeferredValue, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type Conversation,
  deleteConversation,
  listConversations,
  listFolders,
  updateConversation,
} from '../../api/studio';
import { ErrorAlert, useErrorMessage } from '../../components/form-layout';
import { FolderControls } from './folder-controls';

const smallButtonClass =
  'rounded px-1.5 py-0.5 text-xs font-medium text-slate-700 hover:bg-slate-200 disabled:opacity-40 dark:text-slate-300 dark:hover:bg-slate-700';

/** The person's conversations: search, open, rename, pin and delete. */
export function ConversationSidebar({ activeId, busy }: { activeId: string | undefined; busy: boolean }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const explain = useErrorMessage();
  const searchId = useId();
  const [search, setSearch] = useState('');
  // Typing stays fluid while the list catches up with the last query.
  const deferredSearch = useDeferredValue(search);
  const [renaming, setRenaming] = useState<{ id: string; title: string }>();
  const [failure, setFailure] = useState<unknown>();
  /** The folder whose conversations are listed; empty for all of them. */
  const [folderId, setFolderId] = useState('');
  // The server sends a page at a time; older conversations load when asked for, not all at once.
  const pages = useInfiniteQuery({
    queryKey: ['studio', 'conversations', deferredSearch, folderId],
    queryFn: ({ signal, pageParam }) =>
      listConversations(deferredSearch, signal, folderId || undefined, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: (previous) => previous,
  });
  const conversations = { data: pages.data?.pages.flatMap((page) => page.conversations) };
  const folders = useQuery({ queryKey: ['studio', 'folders'], queryFn: ({ signal }) => listFolders(signal) });

  async function change(action: () => Promise<unknown>) {
    setFailure(undefined);
    try {
      await action();
    } catch (error) {
      setFailure(error);
    }
    await queryClient.invalidateQueries({ queryKey: ['studio'] });
  }

  const rename = (conversation: Conversation, title: string) =>
    change(() => updateConversation(conversation.id, { title: title.trim() }));

  return (
    <aside
      aria-label={t('studio.conversations')}
      className="flex flex-col gap-3 lg:w-72 lg:shrink-0"
      data-testid="conversation-sidebar"
    >
      <Link
        to="/studio"
        search={{}}
        data-testid="new-conversation"
        className="rounded-md bg-indigo-700 px-4 py-2 text-center font-medium text-white hover:bg-indigo-800 dark:bg-indigo-500 dark:text-slate-950 dark:hover:bg-indigo-400"
      >
        {t('studio.newConversation')}
      </Link>
      <div className="flex flex-col gap-1">
        <label htmlFor={searchId} className="text-sm font-medium">
          {t('studio.search')}
        </label>
        <input
          id={searchId}
          type="search"
          data-testid="conversation-search"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
        />
      </div>
      <FolderControls
        folders={folders.data ?? []}
        selected={folderId}
        onSelect={setFolderId}
        onChange={change}
      />
      {failure !== undefined && <ErrorAlert testId="sidebar-error">{explain(failure)}</ErrorAlert>}
      {conversations.data?.length === 0 && (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          {deferredSearch ? t('studio.noMatches') : t('studio.noConversations')}
        </p>
      )}
      <ul className="flex max-h-[60vh] flex-col gap-1 overflow-y-auto" data-testid="conversation-list">
        {conversations.data?.map((conversation) => {
          const title = conversation.title || t('studio.untitled');
          const active = conversation.id === activeId;
          return (
            <li
              key={conversation.id}
              data-testid="conversation-item"
              className={`rounded-md px-2 py-1.5 ${active ? 'bg-slate-100 dark:bg-slate-800' : ''}`}
            >
              {renaming?.id === conversation.id ? (
                <form
                  onSubmit={(event) => {
                    event.preventDefault();
                    setRenaming(undefined);
                    if (renaming.title.trim() !== '') void rename(conversation, renaming.title);
                  }}
                >
                  <label htmlFor={`rename-${conversation.id}`} className="sr-only">
                    {t('studio.rename')}
                  </label>
                  <input
                    id={`rename-${conversation.id}`}
                    data-testid="rename-input"
                    // biome-ignore lint/a11y/noAutofocus: the field appears because the person asked to rename.
                    autoFocus
                    value={renaming.title}
                    onChange={(event) => setRenaming({ id: conversation.id, title: event.target.value })}
                    onKeyDown={(event) => {
                      if (event.key === 'Escape') setRenaming(undefined);
                    }}
                    className="w-full rounded border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
                  />
                </form>
              ) : (
                <Link
                  to="/studio"
                  search={{ c: conversation.id }}
                  aria-current={active ? 'page' : undefined}
                  className="block truncate text-sm font-medium hover:underline"
                >
                  {conversation.pinned && (
                    <span className="me-1" role="img" aria-label={t('studio.pinned')}>
                      📌
                    </span>
                  )}
                  <bdi>{title}</bdi>
                </Link>
              )}
              <div className="mt-1 flex flex-wrap items-center gap-1">
                <button
                  type="button"
                  className={smallButtonClass}
                  aria-label={t(conversation.pinned ? 'studio.unpinNamed' : 'studio.pinNamed', { title })}
                  onClick={() =>
                    void change(() => updateConversation(conversation.id, { pinned: !conversation.pinned }))
                  }
                >
                  {conversation.pinned ? t('studio.unpin') : t('studio.pin')}
                </button>
                <button
                  type="button"
                  className={smallButtonClass}
                  data-testid="rename-conversation"
                  aria-label={t('studio.renameNamed', { title })}
                  onClick={() => setRenaming({ id: conversation.id, title: conversation.title })}
                >
                  {t('studio.rename')}
                </button>
                {(folders.data?.length ?? 0) > 0 && (
                  <>
                    <label htmlFor={`move-${conversation.id}`} className="sr-only">
                      {t('studio.folders.moveNamed', { title })}
                    </label>
                    <select
                      id={`move-${conversation.id}`}
                      data-testid="move-conversation"
                      value={conversation.folderId ?? ''}
                      onChange={(event) =>
                        void change(() =>
                          updateConversation(conversation.id, { folderId: event.target.value || null }),
                        )
                      }
                      className="max-w-28 rounded border border-slate-300 bg-white px-1 py-0.5 text-xs text-slate-800 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-200"
                    >
                      <option value="">{t('studio.folders.noFolder')}</option>
                      {folders.data?.map((folder) => (
                        <option key={folder.id} value={folder.id}>
                          {folder.name}
                        </option>
                      ))}
                    </select>
                  </>
                )}
                <button
                  type="button"
                  className={smallButtonClass}
                  data-testid="delete-conversation"
                  disabled={busy && active}
                  aria-label={t('studio.deleteNamed', { title })}
                  onClick={() => {
                    if (!window.confirm(t('studio.confirmDelete', { title }))) return;
                    void change(async () => {
                      await deleteConversation(conversation.id);
                      if (active) await navigate({ to: '/studio', search: {} });
                    });
                  }}
                >
                  {t('studio.delete')}
                </button>
              </div>
            </li>
          );
        })}
      </ul>
      {pages.hasNextPage && (
        <button
          type="button"
          data-testid="load-more-conversations"
          disabled={pages.isFetchingNextPage}
          onClick={() => void pages.fetchNextPage()}
          className="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100 disabled:opacity-50 dark:border-slate-600 dark:text-slate-200 dark:hover:bg-slate-800"
        >
          {pages.isFetchingNextPage ? t('studio.loadingMore') : t('studio.loadMore')}
        </button>
      )}
    </aside>
  );
}
