import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createFolder, deleteFolder, type Folder, renameFolder } from '../../api/studio';

const smallButtonClass =
  'rounded px-1.5 py-0.5 text-xs font-medium text-slate-700 hover:bg-slate-200 disabled:opacity-40 dark:text-slate-300 dark:hover:bg-slate-700';

/** Which folder the sidebar lists, and creating, renaming and deleting folders. */
export function FolderControls({
  folders,
  selected,
  onSelect,
  onChange,
}: {
  folders: Folder[];
  selected: string;
  onSelect: (folderId: string) => void;
  /** Runs a change, reports its failure and refreshes the studio's lists. */
  onChange: (action: () => Promise<unknown>) => Promise<void>;
}) {
  const { t } = useTranslation();
  const selectId = useId();
  const nameId = useId();
  const [editing, setEditing] = useState<{ id: string | undefined; name: string }>();
  const current = folders.find((folder) => folder.id === selected);

  return (
    <div className="flex flex-col gap-1" data-testid="folders">
      <label htmlFor={selectId} className="text-sm font-medium">
        {t('studio.folders.label')}
      </label>
      <select
        id={selectId}
        data-testid="folder-filter"
        value={current ? selected : ''}
        onChange={(event) => onSelect(event.target.value)}
        className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
      >
        <option value="">{t('studio.folders.all')}</option>
        {folders.map((folder) => (
          <option key={folder.id} value={folder.id}>
            {folder.name}
          </option>
        ))}
      </select>
      {editing ? (
        <form
          className="flex flex-wrap items-center gap-1"
          onSubmit={(event) => {
            event.preventDefault();
            const name = editing.name.trim();
            if (name === '') return;
            const id = editing.id;
            setEditing(undefined);
            void onChange(async () => {
              if (id) await renameFolder(id, name);
              else onSelect((await createFolder(name)).id);
            });
          }}
        >
          <label htmlFor={nameId} className="sr-only">
            {t('studio.folders.name')}
          </label>
          <input
            id={nameId}
            data-testid="folder-name"
            // biome-ignore lint/a11y/noAutofocus: the field appears because the person asked for it.
            autoFocus
            maxLength={100}
            value={editing.name}
            onChange={(event) => setEditing({ ...editing, name: event.target.value })}
            onKeyDown={(event) => {
              if (event.key === 'Escape') setEditing(undefined);
            }}
            className="min-w-0 flex-1 rounded border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
          />
          <button type="submit" data-testid="folder-save" className={smallButtonClass}>
            {t('studio.folders.save')}
          </button>
          <button type="button" onClick={() => setEditing(undefined)} className={smallButtonClass}>
            {t('studio.cancel')}
          </button>
        </form>
      ) : (
        <div className="flex flex-wrap gap-1">
          <button
            type="button"
            data-testid="folder-new"
            onClick={() => setEditing({ id: undefined, name: '' })}
            className={smallButtonClass}
          >
            {t('studio.folders.new')}
          </button>
          {current && (
            <>
              <button
                type="button"
                data-testid="folder-rename"
                aria-label={t('studio.folders.renameNamed', { name: current.name })}
                onClick={() => setEditing({ id: current.id, name: current.name })}
                className={smallButtonClass}
              >
                {t('studio.rename')}
              </button>
              <button
                type="button"
                data-testid="folder-delete"
                aria-label={t('studio.folders.deleteNamed', { name: current.name })}
                onClick={() => {
                  if (!window.confirm(t('studio.folders.confirmDelete', { name: current.name }))) return;
                  onSelect('');
                  void onChange(() => deleteFolder(current.id));
                }}
                className={smallButtonClass}
              >
                {t('studio.delete')}
              </button>
            </>
          )}
        </div>
      )}
    </div>
  );
}
