import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  accountExportUrl,
  avatarMaxBytes,
  avatarTypes,
  cancelDeletion,
  type NotificationPreferences,
  removeAvatar,
  scheduleDeletion,
  type Theme,
  updateProfile,
  uploadAvatar,
} from '../../api/account';
import type { Account } from '../../api/auth';
import { ApiError } from '../../api/client';
import { FormField } from '../../components/form-field';
import { ErrorAlert, primaryButtonClass, secondaryButtonClass } from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatDate } from '../../components/use-format-date';
import { changeLanguage } from '../../i18n';
import { isSupportedLanguage, type LanguageCode, supportedLanguages } from '../../i18n/languages';
import { accountQueryKey } from '../../session/use-session';
import { setTheme } from '../../theme';
import {
  CurrentPasswordField,
  FormActions,
  MutationOutcome,
  Saved,
  SettingsLayout,
  SettingsSection,
  useSettingsErrorMessage,
} from './settings-layout';

const selectClass =
  'rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100';

/** Every change answers with the whole account: keep the header and other pages in step at once. */
function useAccountUpdate() {
  const queryClient = useQueryClient();
  return (account: Account) => queryClient.setQueryData(accountQueryKey, account);
}

export function ProfilePage({ account }: { account: Account }) {
  const { t } = useTranslation();
  useDocumentTitle(t('settings.profile.title'));
  return (
    <SettingsLayout>
      <ProfileSection account={account} />
      <PreferencesSection account={account} />
      <NotificationsSection account={account} />
      <PrivacySection account={account} />
    </SettingsLayout>
  );
}

function ProfileSection({ account }: { account: Account }) {
  const { t } = useTranslation();
  const explain = useSettingsErrorMessage();
  const record = useAccountUpdate();
  const [name, setName] = useState(account.name);
  const [avatarError, setAvatarError] = useState<unknown>();
  const fileHintId = useId();
  const save = useMutation({ mutationFn: updateProfile, onSuccess: record });
  const upload = useMutation({ mutationFn: uploadAvatar, onSuccess: record, onError: setAvatarError });
  const remove = useMutation({
    mutationFn: removeAvatar,
    onSuccess: () => record({ ...account, avatarUrl: null }),
    onError: setAvatarError,
  });
  const initials = (account.name || account.email).trim().slice(0, 1).toUpperCase();

  const onFile = (file: File | undefined) => {
    if (!file) return;
    setAvatarError(undefined);
    if (!(avatarTypes as readonly string[]).includes(file.type)) {
      setAvatarError(new ApiError({ code: 'image_invalid', message: '', status: 415 }));
      return;
    }
    if (file.size > avatarMaxBytes) {
      setAvatarError(new ApiError({ code: 'too_large', message: '', status: 413 }));
      return;
    }
    upload.mutate(file);
  };
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() !== '') save.mutate({ name: name.trim() });
  };

  return (
    <SettingsSection id="profile" title={t('settings.profile.profileTitle')}>
      <div className="flex flex-wrap items-center gap-4">
        {account.avatarUrl ? (
          <img
            src={account.avatarUrl}
            alt={t('settings.profile.avatarAlt')}
            data-testid="avatar-image"
            width={80}
            height={80}
            className="size-20 rounded-full object-cover"
          />
        ) : (
          <span
            aria-hidden="true"
            className="flex size-20 items-center justify-center rounded-full bg-indigo-100 text-3xl font-bold text-indigo-900 dark:bg-indigo-900 dark:text-indigo-100"
          >
            {initials}
          </span>
        )}
        <div className="flex flex-col gap-2">
          <div className="flex flex-wrap gap-2">
            <label
              className={`cursor-pointer focus-within:outline-3 focus-within:outline-indigo-500 ${secondaryButtonClass}`}
            >
              {upload.isPending ? t('settings.profile.avatarUploading') : t('settings.profile.avatarChoose')}
              <input
                type="file"
                accept={avatarTypes.join(',')}
                data-testid="avatar-input"
                aria-describedby={fileHintId}
                className="sr-only"
                onChange={(event) => {
                  onFile(event.target.files?.[0]);
                  event.target.value = '';
                }}
              />
            </label>
            {account.avatarUrl && (
              <button
                type="button"
                data-testid="avatar-remove"
                disabled={remove.isPending}
                onClick={() => remove.mutate()}
                className={secondaryButtonClass}
              >
                {t('settings.profile.avatarRemove')}
              </button>
            )}
          </div>
          <p id={fileHintId} className="text-sm text-slate-600 dark:text-slate-400">
            {t('settings.profile.avatarHint')}
          </p>
        </div>
      </div>
      {avatarError !== undefined && <ErrorAlert testId="avatar-error">{explain(avatarError)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4">
        <FormField
          id="profile-name"
          label={t('auth.fields.name')}
          autoComplete="name"
          required
          maxLength={120}
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <MutationOutcome
          mutation={save}
          saved={t('settings.saved')}
          savedTestId="profile-saved"
          errorTestId="profile-error"
        />
        <FormActions testId="profile-save" label={t('settings.save')} pending={save.isPending} />
      </form>
    </SettingsSection>
  );
}

const themes: Theme[] = ['system', 'light', 'dark'];

function timeZones(current: string): string[] {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return zones.includes(current) ? zones : [current, ...zones];
}

function PreferencesSection({ account }: { account: Account }) {
  const { t, i18n } = useTranslation();
  const record = useAccountUpdate();
  const [theme, setThemeChoice] = useState<Theme>(account.theme);
  const [language, setLanguage] = useState<LanguageCode>(
    isSupportedLanguage(i18n.resolvedLanguage) ? i18n.resolvedLanguage : account.locale,
  );
  const [timeZone, setTimeZone] = useState(account.timeZone);
  const zones = useMemo(() => timeZones(account.timeZone), [account.timeZone]);
  const languageId = useId();
  const zoneId = useId();
  const save = useMutation({
    mutationFn: updateProfile,
    onSuccess: (updated) => {
      record(updated);
      setTheme(updated.theme);
      void changeLanguage(updated.locale);
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate({ theme, locale: language, timeZone });
  };
  return (
    <SettingsSection id="preferences" title={t('settings.profile.preferencesTitle')}>
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-5">
        <fieldset className="flex flex-col gap-2">
          <legend className="mb-1 font-medium">{t('settings.profile.theme')}</legend>
          <div className="flex flex-wrap gap-x-6 gap-y-2">
            {themes.map((choice) => (
              <label key={choice} className="flex items-center gap-2">
                <input
                  type="radio"
                  name="theme"
                  value={choice}
                  data-testid={`theme-${choice}`}
                  checked={theme === choice}
                  onChange={() => setThemeChoice(choice)}
                  className="size-4 accent-indigo-700"
                />
                {t(`settings.profile.themes.${choice}`)}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="flex flex-col gap-1.5">
          <label htmlFor={languageId} className="font-medium">
            {t('settings.profile.language')}
          </label>
          <select
            id={languageId}
            data-testid="preferences-language"
            value={language}
            onChange={(event) => {
              if (isSupportedLanguage(event.target.value)) setLanguage(event.target.value);
            }}
            className={selectClass}
          >
            {supportedLanguages.map((entry) => (
              <option key={entry.code} value={entry.code} lang={entry.code} dir={entry.direction}>
                {entry.nativeName}
              </option>
            ))}
          </select>
          <p className="text-sm text-slate-600 dark:text-slate-400">{t('settings.profile.languageHint')}</p>
        </div>
        <div className="flex flex-col gap-1.5">
          <label htmlFor={zoneId} className="font-medium">
            {t('settings.profile.timeZone')}
          </label>
          <select
            id={zoneId}
            data-testid="preferences-time-zone"
            dir="ltr"
            value={timeZone}
            onChange={(event) => setTimeZone(event.target.value)}
            className={selectClass}
          >
            {zones.map((zone) => (
              <option key={zone} value={zone}>
                {zone.replaceAll('_', ' ')}
              </option>
            ))}
          </select>
          <p className="text-sm text-slate-600 dark:text-slate-400">{t('settings.profile.timeZoneHint')}</p>
        </div>
        <MutationOutcome
          mutation={save}
          saved={t('settings.saved')}
          savedTestId="preferences-saved"
          errorTestId="preferences-error"
        />
        <FormActions testId="preferences-save" label={t('settings.save')} pending={save.isPending} />
      </form>
    </SettingsSection>
  );
}

const notificationKinds: Array<keyof NotificationPreferences> = ['product', 'billing', 'marketing'];

function NotificationsSection({ account }: { account: Account }) {
  const { t } = useTranslation();
  const record = useAccountUpdate();
  const [choices, setChoices] = useState<NotificationPreferences>(account.notificationPreferences);
  const save = useMutation({ mutationFn: updateProfile, onSuccess: record });
  return (
    <SettingsSection
      id="notifications"
      title={t('settings.profile.notificationsTitle')}
      intro={t('settings.profile.notificationsIntro')}
    >
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ notificationPreferences: choices });
        }}
        className="flex flex-col gap-4"
      >
        <fieldset className="flex flex-col gap-3">
          <legend className="sr-only">{t('settings.profile.notificationsTitle')}</legend>
          {notificationKinds.map((kind) => (
            <label key={kind} className="flex items-start gap-3">
              <input
                type="checkbox"
                data-testid={`notify-${kind}`}
                checked={choices[kind]}
                onChange={(event) =>
                  setChoices((previous) => ({ ...previous, [kind]: event.target.checked }))
                }
                className="mt-1 size-4 shrink-0 accent-indigo-700"
              />
              <span>
                <span className="block font-medium">{t(`settings.profile.notifications.${kind}.title`)}</span>
                <span className="block text-sm text-slate-600 dark:text-slate-400">
                  {t(`settings.profile.notifications.${kind}.body`)}
                </span>
              </span>
            </label>
          ))}
        </fieldset>
        <MutationOutcome
          mutation={save}
          saved={t('settings.saved')}
          savedTestId="notifications-saved"
          errorTestId="notifications-error"
        />
        <FormActions testId="notifications-save" label={t('settings.save')} pending={save.isPending} />
      </form>
    </SettingsSection>
  );
}

function PrivacySection({ account }: { account: Account }) {
  const { t } = useTranslation();
  const formatDate = useFormatDate();
  const record = useAccountUpdate();
  const [password, setPassword] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [passwordMissing, setPasswordMissing] = useState(false);
  const schedule = useMutation({
    mutationFn: scheduleDeletion,
    onSuccess: (when) => {
      setPassword('');
      setConfirming(false);
      record({ ...account, deletionScheduledFor: when });
    },
  });
  const cancel = useMutation({
    mutationFn: cancelDeletion,
    onSuccess: () => record({ ...account, deletionScheduledFor: null }),
  });

  return (
    <SettingsSection id="privacy" title={t('settings.profile.privacyTitle')}>
      <div className="flex flex-col gap-2">
        <h3 className="font-semibold">{t('settings.profile.exportTitle')}</h3>
        <p className="text-slate-700 dark:text-slate-300">{t('settings.profile.exportBody')}</p>
        <div>
          <a href={accountExportUrl} download data-testid="export-data" className={secondaryButtonClass}>
            {t('settings.profile.exportButton')}
          </a>
        </div>
      </div>
      <div className="flex flex-col gap-3 border-t border-slate-200 pt-4 dark:border-slate-800">
        <h3 className="font-semibold">{t('settings.profile.deleteTitle')}</h3>
        {account.deletionScheduledFor ? (
          <div
            role="alert"
            data-testid="deletion-scheduled"
            className="flex flex-col gap-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-50"
          >
            <p>
              {t('settings.profile.deletionScheduled', {
                date: formatDate(account.deletionScheduledFor, false),
              })}
            </p>
            <MutationOutcome mutation={cancel} errorTestId="deletion-cancel-error" />
            <div>
              <button
                type="button"
                data-testid="deletion-cancel"
                disabled={cancel.isPending}
                onClick={() => cancel.mutate()}
                className={primaryButtonClass}
              >
                {t('settings.profile.deletionCancel')}
              </button>
            </div>
          </div>
        ) : (
          <>
            {cancel.isSuccess && (
              <Saved testId="deletion-cancelled">{t('settings.profile.deletionCancelled')}</Saved>
            )}
            <p className="text-slate-700 dark:text-slate-300">{t('settings.profile.deleteBody')}</p>
            {confirming ? (
              <form
                noValidate
                onSubmit={(event) => {
                  event.preventDefault();
                  setPasswordMissing(account.hasPassword && password === '');
                  if (account.hasPassword && password === '') return;
                  schedule.mutate(account.hasPassword ? password : undefined);
                }}
                className="flex flex-col gap-3 rounded-md border border-red-300 bg-red-50 p-4 text-red-950 dark:border-red-800 dark:bg-red-950 dark:text-red-50"
              >
                <p className="font-medium">{t('settings.profile.deleteConfirm')}</p>
                {account.hasPassword && (
                  <CurrentPasswordField
                    id="delete-password"
                    value={password}
                    onChange={setPassword}
                    missing={passwordMissing}
                  />
                )}
                <MutationOutcome
                  mutation={schedule}
                  errorTestId="deletion-error"
                  conflictMessage={t('settings.profile.deleteLastAdmin')}
                />
                <FormActions
                  testId="deletion-confirm"
                  label={t('settings.profile.deleteButton')}
                  pending={schedule.isPending}
                  danger
                  onCancel={() => {
                    setConfirming(false);
                    setPasswordMissing(false);
                  }}
                />
              </form>
            ) : (
              <div>
                <button
                  type="button"
                  data-testid="deletion-start"
                  onClick={() => setConfirming(true)}
                  className="rounded-md border border-red-700 px-4 py-2 font-medium text-red-800 hover:bg-red-50 dark:border-red-400 dark:text-red-300 dark:hover:bg-red-950"
                >
                  {t('settings.profile.deleteButton')}
                </button>
              </div>
            )}
          </>
        )}
      </div>
    </SettingsSection>
  );
}
