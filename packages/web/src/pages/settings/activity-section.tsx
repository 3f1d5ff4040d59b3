import { useInfiniteQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type ActivityEvent, fetchActivity } from '../../api/account';
import { ErrorAlert, secondaryButtonClass } from '../../components/form-layout';
import { useFormatDate } from '../../components/use-format-date';
import { describeDevice } from './describe-device';
import { SettingsSection, useSettingsErrorMessage } from './settings-layout';

const pageSize = 20;

/** The journal's filters: each is a set of event types or type prefixes the server understands. */
const filters = {
  all: undefined,
  signIns: 'sign_in.,sign_out,oauth.',
  credentials: 'password.,email.',
  twoFactor: 'two_factor.',
  sessions: 'session.,sign_out',
  keys: 'provider_key.,api_key.',
} as const;
type Filter = keyof typeof filters;

/** The events a person is shown by name; others (payments, admin) read as a generic entry. */
const labels = {
  sign_up: 'signUp',
  'sign_in.succeeded': 'signInSucceeded',
  'sign_in.failed': 'signInFailed',
  'sign_in.locked': 'signInLocked',
  'sign_in.two_factor_failed': 'twoFactorFailed',
  sign_out: 'signOut',
  'session.revoked': 'sessionRevoked',
  'session.refresh_reused': 'refreshReused',
  'email.verified': 'emailVerified',
  'email.change_requested': 'emailChangeRequested',
  'email.changed': 'emailChanged',
  'password.reset_requested': 'passwordResetRequested',
  'password.reset': 'passwordReset',
  'password.changed': 'passwordChanged',
  'two_factor.enabled': 'twoFactorEnabled',
  'two_factor.disabled': 'twoFactorDisabled',
  'two_factor.backup_code_used': 'backupCodeUsed',
  'two_factor.backup_codes_regenerated': 'backupCodesRegenerated',
  'two_factor.email_code_sent': 'twoFactorEmailCodeSent',
  'oauth.linked': 'oauthLinked',
  'oauth.signed_up': 'oauthSignedUp',
  'provider_key.saved': 'providerKeySaved',
  'provider_key.deleted': 'providerKeyDeleted',
  'api_key.created': 'apiKeyCreated',
  'api_key.revoked': 'apiKeyRevoked',
  'profile.updated': 'profileUpdated',
  'account.export': 'accountExport',
  'account.deletion_scheduled': 'deletionScheduled',
  'account.deletion_cancelled': 'deletionCancelled',
  'admin.role_changed': 'roleChanged',
  'admin.status_changed': 'statusChanged',
} as const;

/** Events that warn of someone else trying: shown so they stand out. */
const warnings = new Set([
  'sign_in.failed',
  'sign_in.locked',
  'sign_in.two_factor_failed',
  'session.refresh_reused',
]);

/** The personal security journal: what happened to the account, when, from where, filtered by kind. */
export function ActivitySection() {
  const { t } = useTranslation();
  const formatDate = useFormatDate();
  const explain = useSettingsErrorMessage();
  const filterId = useId();
  const [filter, setFilter] = useState<Filter>('all');
  const journal = useInfiniteQuery({
    queryKey: ['account', 'activity', filter],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam, signal }) =>
      fetchActivity(
        {
          limit: pageSize,
          ...(filters[filter] ? { types: filters[filter] } : {}),
          ...(pageParam ? { beforeId: pageParam } : {}),
        },
        signal,
      ),
    getNextPageParam: (page) => (page.length === pageSize ? page.at(-1)?.id : undefined),
  });
  const events = journal.data?.pages.flat() ?? [];

  const label = (event: ActivityEvent) => {
    const key = labels[event.type as keyof typeof labels];
    return key ? t(`settings.security.activity.types.${key}`) : t('settings.security.activity.other');
  };

  return (
    <SettingsSection
      id="activity"
      title={t('settings.security.activity.title')}
      intro={t('settings.security.activity.intro')}
    >
      <div className="flex flex-col gap-1.5">
        <label htmlFor={filterId} className="font-medium">
          {t('settings.security.activity.filter')}
        </label>
        <select
          id={filterId}
          data-testid="activity-filter"
          value={filter}
          onChange={(event) => setFilter(event.target.value as Filter)}
          className="max-w-xs rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
        >
          {(Object.keys(filters) as Filter[]).map((choice) => (
            <option key={choice} value={choice}>
              {t(`settings.security.activity.filters.${choice}`)}
            </option>
          ))}
        </select>
      </div>
      {journal.isError && <ErrorAlert testId="activity-error">{explain(journal.error)}</ErrorAlert>}
      {journal.isSuccess && events.length === 0 && (
        <p data-testid="activity-empty">{t('settings.security.activity.empty')}</p>
      )}
      <ul
        className="flex flex-col divide-y divide-slate-200 dark:divide-slate-800"
        data-testid="activity-list"
      >
        {events.map((event) => (
          <li
            key={event.id}
            data-testid="activity-item"
            data-type={event.type}
            className="flex flex-col gap-0.5 py-2"
          >
            <p
              className={
                warnings.has(event.type) ? 'font-medium text-red-800 dark:text-red-300' : 'font-medium'
              }
            >
              {label(event)}
            </p>
            <p className="text-sm text-slate-600 dark:text-slate-400">
              <time dateTime={event.createdAt}>{formatDate(event.createdAt)}</time>
              {' · '}
              {t('settings.security.activity.from', {
                ip: event.ip ?? '—',
                device: describeDevice(event.userAgent, t('settings.security.sessions.unknownDevice')),
              })}
            </p>
          </li>
        ))}
      </ul>
      {journal.hasNextPage && (
        <div>
          <button
            type="button"
            data-testid="activity-more"
            disabled={journal.isFetchingNextPage}
            onClick={() => void journal.fetchNextPage()}
            className={secondaryButtonClass}
          >
            {t('settings.security.activity.more')}
          </button>
        </div>
      )}
    </SettingsSection>
  );
}
