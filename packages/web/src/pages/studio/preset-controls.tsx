import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createPreset, deletePreset, listPresets, type Preset } from '../../api/studio';
import { ErrorAlert, useErrorMessage } from '../../components/form-layout';

const presetsKey = ['studio', 'presets'] as const;
const smallButtonClass =
  'rounded-md border border-slate-300 px-2.5 py-1 text-sm font-medium text-slate-800 hover:bg-slate-100 disabled:opacity-50 dark:border-slate-600 dark:text-slate-100 dark:hover:bg-slate-800';
const inputClass =
  'min-w-0 flex-1 rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100';

/** Saved presets (a model and a system prompt): apply one, save the current settings as one, delete one. */
export function PresetControls({
  model,
  systemPrompt,
  disabled,
  onApply,
}: {
  model: string;
  systemPrompt: string;
  disabled: boolean;
  onApply: (preset: Preset) => void;
}) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const selectId = useId();
  const nameId = useId();
  const presets = useQuery({ queryKey: presetsKey, queryFn: ({ signal }) => listPresets(signal) });
  const [selected, setSelected] = useState('');
  const [naming, setNaming] = useState<string>();
  const refresh = () => queryClient.invalidateQueries({ queryKey: presetsKey });
  const save = useMutation({
    mutationFn: createPreset,
    onSuccess: (preset) => {
      setNaming(undefined);
      setSelected(preset.id);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: deletePreset,
    onSuccess: () => {
      setSelected('');
      void refresh();
    },
  });
  const chosen = presets.data?.find((preset) => preset.id === selected);

  return (
    <div className="flex flex-col gap-2" data-testid="presets">
      <div className="flex flex-wrap items-center gap-2">
        <label htmlFor={selectId} className="text-sm font-medium">
          {t('studio.presets.label')}
        </label>
        <select
          id={selectId}
          data-testid="preset-picker"
          value={selected}
          disabled={disabled || !presets.data?.length}
          onChange={(event) => {
            setSelected(event.target.value);
            const preset = presets.data?.find((entry) => entry.id === event.target.value);
            if (preset) onApply(preset);
          }}
          className="min-w-0 flex-1 basis-40 rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
        >
          <option value="">
            {presets.data?.length ? t('studio.presets.choose') : t('studio.presets.none')}
          </option>
          {presets.data?.map((preset) => (
            <option key={preset.id} value={preset.id}>
              {preset.name}
            </option>
          ))}
        </select>
        {naming === undefined && (
          <button
            type="button"
            data-testid="preset-save-start"
            disabled={disabled}
            onClick={() => setNaming('')}
            className={smallButtonClass}
          >
            {t('studio.presets.save')}
          </button>
        )}
        {chosen && naming === undefined && (
          <button
            type="button"
            data-testid="preset-delete"
            disabled={disabled || remove.isPending}
            aria-label={t('studio.presets.deleteNamed', { name: chosen.name })}
            onClick={() => {
              if (window.confirm(t('studio.presets.confirmDelete', { name: chosen.name })))
                remove.mutate(chosen.id);
            }}
            className={smallButtonClass}
          >
            {t('studio.delete')}
          </button>
        )}
      </div>
      {naming !== undefined && (
        <form
          className="flex flex-wrap items-center gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (naming.trim() !== '')
              save.mutate({ name: naming.trim(), model: model || null, systemPrompt });
          }}
        >
          <label htmlFor={nameId} className="text-sm font-medium">
            {t('studio.presets.name')}
          </label>
          <input
            id={nameId}
            data-testid="preset-name"
            // biome-ignore lint/a11y/noAutofocus: the field appears because the person asked to save a preset.
            autoFocus
            maxLength={100}
            value={naming}
            onChange={(event) => setNaming(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Escape') setNaming(undefined);
            }}
            className={inputClass}
          />
          <button
            type="submit"
            data-testid="preset-save"
            disabled={save.isPending}
            className={smallButtonClass}
          >
            {t('studio.presets.saveConfirm')}
          </button>
          <button type="button" onClick={() => setNaming(undefined)} className={smallButtonClass}>
            {t('studio.cancel')}
          </button>
        </form>
      )}
      {(save.isError || remove.isError) && (
        <ErrorAlert testId="preset-error">{explain(save.error ?? remove.error)}</ErrorAlert>
      )}
    </div>
  );
}
