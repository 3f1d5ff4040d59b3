import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import {
  type AccountProof,
  changePassword,
  disableTwoFactor,
  enableTwoFactor,
  fetchTwoFactorStatus,
  listSessions,
  regenerateBackupCodes,
  requestEmailChange,
  revokeOtherSessions,
  revokeSession,
  type Session,
  sendTwoFactorEmailCode,
  startTwoFactorSetup,
} from '../../api/account';
import type { Account } from '../../api/auth';
import { CopyButton } from '../../components/copy-button';
import { FormField } from '../../components/form-field';
import {
  ErrorAlert,
  isEmail,
  minimumPasswordLength,
  primaryButtonClass,
  secondaryButtonClass,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatDate } from '../../components/use-format-date';
import { accountQueryKey } from '../../session/use-session';
import { ActivitySection } from './activity-section';
import { describeDevice } from './describe-device';
import {
  CurrentPasswordField,
  FormActions,
  MutationOutcome,
  Saved,
  SettingsLayout,
  SettingsSection,
  useSettingsErrorMessage,
} from './settings-layout';

const twoFactorKey = ['account', 'two-factor'] as const;
const sessionsKey = ['account', 'sessions'] as const;
const smallDangerButtonClass =
  'rounded-md border border-red-700 px-3 py-1.5 text-sm font-medium text-red-800 hover:bg-red-50 disabled:opacity-60 dark:border-red-400 dark:text-red-300 dark:hover:bg-red-950';

export function SecurityPage({ account }: { account: Account }) {
  const { t } = useTranslation();
  useDocumentTitle(t('settings.security.title'));
  return (
    <SettingsLayout>
      {account.twoFactorSetupRequired && (
        <div
          role="alert"
          data-testid="two-factor-required"
          className="flex flex-col gap-1 rounded-md border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-50"
        >
          <p className="font-semibold">{t('settings.security.twoFactor.requiredTitle')}</p>
          <p>{t('settings.security.twoFactor.requiredBody')}</p>
        </div>
      )}
      <TwoFactorSection hasPassword={account.hasPassword} email={account.email} />
      {/* Until staff who must use two-step verification have set it up, the server only allows this and a new password. */}
      {!account.twoFactorSetupRequired && <SessionsSection />}
      {account.hasPassword && <PasswordSection />}
      {account.hasPassword && !account.twoFactorSetupRequired && <EmailSection account={account} />}
      {!account.twoFactorSetupRequired && <ActivitySection />}
    </SettingsLayout>
  );
}

/** Authenticator codes arrive with spaces ("123 456") when copied from some apps. */
const cleanCode = (code: string) => code.replace(/\s+/g, '');

/** A code from the authenticator app (digits), or also a backup code (letters) where `backupCodes`. */
function CodeField({
  id,
  label,
  hint,
  value,
  onChange,
  backupCodes = false,
  missing = false,
}: {
  id: string;
  label: string;
  hint?: string;
  value: string;
  onChange: (value: string) => void;
  backupCodes?: boolean;
  /** The form was sent with this field empty: say so rather than doing nothing. */
  missing?: boolean;
}) {
  const { t } = useTranslation();
  return (
    <FormField
      id={id}
      label={label}
      {...(hint ? { hint } : {})}
      autoComplete="one-time-code"
      {...(backupCodes ? {} : { inputMode: 'numeric' as const })}
      dir="ltr"
      required
      value={value}
      error={missing ? t('auth.validation.codeRequired') : undefined}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}

/**
 * An account without a password (signed up with Google or GitHub) confirms a 2FA change with a code emailed to it: a
 * button that sends the code, and the field to type it in.
 */
function EmailCodeField({
  id,
  action,
  email,
  value,
  onChange,
  missing = false,
}: {
  id: string;
  action: 'enable' | 'disable';
  email: string;
  value: string;
  onChange: (value: string) => void;
  missing?: boolean;
}) {
  const { t } = useTranslation();
  const explain = useSettingsErrorMessage();
  const send = useMutation({ mutationFn: () => sendTwoFactorEmailCode(action) });
  const bold = { email: <bdi dir="ltr" className="font-semibold" /> };
  return (
    <div className="flex flex-col gap-3">
      <p className="text-slate-700 dark:text-slate-300">
        <Trans i18nKey="settings.security.twoFactor.emailCode.intro" values={{ email }} components={bold} />
      </p>
      <div>
        <button
          type="button"
          data-testid={`${id}-send`}
          disabled={send.isPending}
          onClick={() => send.mutate()}
          className={secondaryButtonClass}
        >
          {send.isSuccess
            ? t('settings.security.twoFactor.emailCode.resend')
            : t('settings.security.twoFactor.emailCode.send')}
        </button>
      </div>
      {send.isSuccess && (
        <Saved testId={`${id}-sent`}>
          <Trans i18nKey="settings.security.twoFactor.emailCode.sent" values={{ email }} components={bold} />
        </Saved>
      )}
      {send.isError && <ErrorAlert testId={`${id}-send-error`}>{explain(send.error)}</ErrorAlert>}
      <FormField
        id={id}
        label={t('settings.security.twoFactor.emailCode.label')}
        hint={t('settings.security.twoFactor.emailCode.hint')}
        autoComplete="one-time-code"
        dir="ltr"
        required
        value={value}
        error={missing ? t('auth.validation.codeRequired') : undefined}
        onChange={(event) => onChange(event.target.value)}
      />
    </div>
  );
}

function TwoFactorSection({ hasPassword, email }: { hasPassword: boolean; email: string }) {
  const { t } = useTranslation();
  const formatDate = useFormatDate();
  const explain = useSettingsErrorMessage();
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: twoFactorKey, queryFn: ({ signal }) => fetchTwoFactorStatus(signal) });
  const [backupCodes, setBackupCodes] = useState<string[]>();
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [emailCode, setEmailCode] = useState('');
  const [mode, setMode] = useState<'idle' | 'regenerate' | 'disable'>('idle');
  const [missing, setMissing] = useState<{ code?: boolean; password?: boolean; emailCode?: boolean }>({});
  /** What confirms the change besides the app's code, and whether it was left empty. */
  const proof = (): AccountProof => (hasPassword ? { password } : { emailCode: emailCode.trim() });
  const proofMissing = () =>
    hasPassword ? { password: password === '' } : { emailCode: emailCode.trim() === '' };
  const switchMode = (next: typeof mode) => {
    setMode(next);
    setMissing({});
  };

  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: twoFactorKey });
    void queryClient.invalidateQueries({ queryKey: accountQueryKey });
  };
  const setup = useMutation({ mutationFn: startTwoFactorSetup });
  const enable = useMutation({
    mutationFn: enableTwoFactor,
    onSuccess: (codes) => {
      setBackupCodes(codes);
      setCode('');
      setPassword('');
      setEmailCode('');
      setup.reset();
      refresh();
    },
  });
  const regenerate = useMutation({
    mutationFn: regenerateBackupCodes,
    onSuccess: (codes) => {
      setBackupCodes(codes);
      setCode('');
      switchMode('idle');
      refresh();
    },
  });
  const disable = useMutation({
    mutationFn: disableTwoFactor,
    onSuccess: () => {
      setCode('');
      setPassword('');
      setEmailCode('');
      switchMode('idle');
      refresh();
    },
  });

  const content = () => {
    if (backupCodes) return <BackupCodes codes={backupCodes} onDone={() => setBackupCodes(undefined)} />;
    if (!status.data) return <p role="status">{t('auth.loading')}</p>;
    if (!status.data.enabled) {
      if (!setup.data) {
        return (
          <>
            <p data-testid="two-factor-off">{t('settings.security.twoFactor.off')}</p>
            {setup.isError && <ErrorAlert testId="two-factor-setup-error">{explain(setup.error)}</ErrorAlert>}
            {disable.isSuccess && (
              <Saved testId="two-factor-disabled">{t('settings.security.twoFactor.disabled')}</Saved>
            )}
            <div>
              <button
                type="button"
                data-testid="two-factor-start"
                disabled={setup.isPending}
                onClick={() => setup.mutate()}
                className={primaryButtonClass}
              >
                {t('settings.security.twoFactor.start')}
              </button>
            </div>
          </>
        );
      }
      const onConfirm = (event: FormEvent) => {
        event.preventDefault();
        const found = { code: cleanCode(code) === '', ...proofMissing() };
        setMissing(found);
        if (Object.values(found).some(Boolean)) return;
        enable.mutate({ code: cleanCode(code), ...proof() });
      };
      return (
        <div className="flex flex-col gap-4">
          <ol className="flex list-decimal flex-col gap-4 ps-5">
            <li>
              <p>{t('settings.security.twoFactor.scan')}</p>
              <img
                src={setup.data.qrCode}
                alt={t('settings.security.twoFactor.qrAlt')}
                data-testid="two-factor-qr"
                width={200}
                height={200}
                className="mt-2 rounded-md border border-slate-200 bg-white p-1 dark:border-slate-700"
              />
              <p className="mt-3 text-sm text-slate-700 dark:text-slate-300">
                {t('settings.security.twoFactor.manual')}
              </p>
              <div className="mt-1 flex flex-wrap items-center gap-2">
                <code
                  dir="ltr"
                  data-testid="two-factor-secret"
                  className="break-all rounded bg-slate-100 px-2 py-1 font-mono text-sm dark:bg-slate-800"
                >
                  {setup.data.secret}
                </code>
                <CopyButton
                  text={setup.data.secret}
                  label={t('settings.security.twoFactor.copySecret')}
                  className={`text-sm ${secondaryButtonClass}`}
                />
              </div>
            </li>
            <li>
              <form noValidate onSubmit={onConfirm} className="flex flex-col gap-3">
                <CodeField
                  id="two-factor-enable-code"
                  label={t('settings.security.twoFactor.confirmCode')}
                  hint={t('settings.security.twoFactor.confirmHint')}
                  value={code}
                  onChange={setCode}
                  missing={missing.code}
                />
                {/* A session alone must not be enough to put a second factor between the owner and the account. */}
                {hasPassword ? (
                  <CurrentPasswordField
                    id="two-factor-enable-password"
                    value={password}
                    onChange={setPassword}
                    missing={missing.password}
                  />
                ) : (
                  <EmailCodeField
                    id="two-factor-enable-email-code"
                    action="enable"
                    email={email}
                    value={emailCode}
                    onChange={setEmailCode}
                    missing={missing.emailCode}
                  />
                )}
                <MutationOutcome mutation={enable} errorTestId="two-factor-enable-error" />
                <FormActions
                  testId="two-factor-enable"
                  label={t('settings.security.twoFactor.enable')}
                  pending={enable.isPending}
                  onCancel={() => {
                    setup.reset();
                    enable.reset();
                    setCode('');
                    setPassword('');
                    setEmailCode('');
                    setMissing({});
                  }}
                />
              </form>
            </li>
          </ol>
        </div>
      );
    }

    const onRegenerate = (event: FormEvent) => {
      event.preventDefault();
      setMissing({ code: cleanCode(code) === '' });
      if (cleanCode(code) !== '') regenerate.mutate(cleanCode(code));
    };
    const onDisable = (event: FormEvent) => {
      event.preventDefault();
      const found = { code: cleanCode(code) === '', ...proofMissing() };
      setMissing(found);
      if (!Object.values(found).some(Boolean)) disable.mutate({ code: cleanCode(code), ...proof() });
    };
    return (
      <>
        <p data-testid="two-factor-on" className="font-medium text-emerald-800 dark:text-emerald-300">
          {status.data.enabledAt
            ? t('settings.security.twoFactor.onSince', { date: formatDate(status.data.enabledAt, false) })
            : t('settings.security.twoFactor.on')}
        </p>
        <p className="text-slate-700 dark:text-slate-300">
          {t('settings.security.twoFactor.backupLeft', { number: status.data.backupCodesLeft })}
        </p>
        {mode === 'idle' && (
          <div className="flex flex-wrap gap-2">
            <button
              type="button"
              data-testid="backup-codes-regenerate-start"
              className={secondaryButtonClass}
              onClick={() => switchMode('regenerate')}
            >
              {t('settings.security.twoFactor.regenerate')}
            </button>
            <button
              type="button"
              data-testid="two-factor-disable-start"
              className={smallDangerButtonClass}
              onClick={() => switchMode('disable')}
            >
              {t('settings.security.twoFactor.disable')}
            </button>
          </div>
        )}
        {mode === 'regenerate' && (
          <form noValidate onSubmit={onRegenerate} className="flex flex-col gap-3">
            <p>{t('settings.security.twoFactor.regenerateIntro')}</p>
            <CodeField
              id="backup-codes-code"
              label={t('settings.security.twoFactor.currentCode')}
              value={code}
              onChange={setCode}
              missing={missing.code}
            />
            <MutationOutcome mutation={regenerate} errorTestId="backup-codes-error" />
            <FormActions
              testId="backup-codes-regenerate"
              label={t('settings.security.twoFactor.regenerate')}
              pending={regenerate.isPending}
              onCancel={() => switchMode('idle')}
            />
          </form>
        )}
        {mode === 'disable' && (
          <form noValidate onSubmit={onDisable} className="flex flex-col gap-3">
            <p>
              {hasPassword
                ? t('settings.security.twoFactor.disableIntro')
                : t('settings.security.twoFactor.disableIntroEmail')}
            </p>
            {hasPassword && (
              <CurrentPasswordField
                id="two-factor-disable-password"
                value={password}
                onChange={setPassword}
                missing={missing.password}
              />
            )}
            <CodeField
              id="two-factor-disable-code"
              label={t('settings.security.twoFactor.codeOrBackup')}
              value={code}
              onChange={setCode}
              backupCodes
              missing={missing.code}
            />
            {!hasPassword && (
              <EmailCodeField
                id="two-factor-disable-email-code"
                action="disable"
                email={email}
                value={emailCode}
                onChange={setEmailCode}
                missing={missing.emailCode}
              />
            )}
            <MutationOutcome mutation={disable} errorTestId="two-factor-disable-error" />
            <FormActions
              testId="two-factor-disable"
              label={t('settings.security.twoFactor.disable')}
              pending={disable.isPending}
              danger
              onCancel={() => switchMode('idle')}
            />
          </form>
        )}
      </>
    );
  };

  return (
    <SettingsSection
      id="two-factor"
      title={t('settings.security.twoFactor.title')}
      intro={t('settings.security.twoFactor.intro')}
    >
      {status.isError && <ErrorAlert testId="two-factor-status-error">{explain(status.error)}</ErrorAlert>}
      {content()}
    </SettingsSection>
  );
}

/** Ten single-use codes, shown this once: copy them or save them as a text file. */
function BackupCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useTranslation();
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  const text = `${t('settings.security.backupCodes.fileHeader')}\n\n${codes.join('\n')}\n`;
  const [href, setHref] = useState<string>();
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [text]);
  return (
    <div
      data-testid="backup-codes"
      className="flex flex-col gap-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-50"
    >
      <h3 ref={headingRef} tabIndex={-1} className="text-lg font-bold">
        {t('settings.security.backupCodes.title')}
      </h3>
      <p role="alert">{t('settings.security.backupCodes.once')}</p>
      <ul dir="ltr" className="grid grid-cols-2 gap-2 font-mono sm:grid-cols-5">
        {codes.map((backupCode) => (
          <li
            key={backupCode}
            data-testid="backup-code"
            className="rounded bg-white px-2 py-1 text-center text-slate-900 dark:bg-slate-900 dark:text-slate-100"
          >
            {backupCode}
          </li>
        ))}
      </ul>
      <div className="flex flex-wrap gap-2">
        <CopyButton
          text={codes.join('\n')}
          label={t('settings.security.backupCodes.copy')}
          className={secondaryButtonClass}
        />
        {href && (
          <a href={href} download="webox-backup-codes.txt" className={secondaryButtonClass}>
            {t('settings.security.backupCodes.download')}
          </a>
        )}
        <button type="button" data-testid="backup-codes-done" className={primaryButtonClass} onClick={onDone}>
          {t('settings.security.backupCodes.done')}
        </button>
      </div>
    </div>
  );
}

function SessionsSection() {
  const { t } = useTranslation();
  const formatDate = useFormatDate();
  const explain = useSettingsErrorMessage();
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: sessionsKey, queryFn: ({ signal }) => listSessions(signal) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: sessionsKey });
  const revoke = useMutation({ mutationFn: revokeSession, onSettled: refresh });
  const revokeOthers = useMutation({ mutationFn: revokeOtherSessions, onSettled: refresh });
  const others = sessions.data?.filter((session) => !session.current) ?? [];

  const item = (session: Session) => (
    <li
      key={session.id}
      data-testid="session-item"
      data-current={session.current}
      className="flex flex-col gap-2 rounded-md border border-slate-200 p-3 sm:flex-row sm:items-center sm:justify-between dark:border-slate-800"
    >
      <div className="flex flex-col gap-0.5 text-sm">
        <p className="font-medium" title={session.userAgent ?? undefined}>
          <bdi>{describeDevice(session.userAgent, t('settings.security.sessions.unknownDevice'))}</bdi>
          {session.current && (
            <span className="ms-2 rounded-full border border-emerald-300 bg-emerald-50 px-2 py-0.5 text-xs text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100">
              {t('settings.security.sessions.current')}
            </span>
          )}
        </p>
        <p className="text-slate-600 dark:text-slate-400">
          {t('settings.security.sessions.details', {
            ip: session.ip ?? '—',
            created: formatDate(session.createdAt),
            lastUsed: formatDate(session.lastUsedAt),
          })}
        </p>
      </div>
      {!session.current && (
        <button
          type="button"
          data-testid="session-revoke"
          disabled={revoke.isPending}
          onClick={() => revoke.mutate(session.id)}
          className={`self-start sm:self-auto ${smallDangerButtonClass}`}
        >
          {t('settings.security.sessions.revoke')}
        </button>
      )}
    </li>
  );

  return (
    <SettingsSection
      id="sessions"
      title={t('settings.security.sessions.title')}
      intro={t('settings.security.sessions.intro')}
    >
      {sessions.isError && <ErrorAlert testId="sessions-error">{explain(sessions.error)}</ErrorAlert>}
      {(revoke.isError || revokeOthers.isError) && (
        <ErrorAlert testId="session-revoke-error">{explain(revoke.error ?? revokeOthers.error)}</ErrorAlert>
      )}
      {revokeOthers.isSuccess && (
        <Saved testId="sessions-revoked">
          {t('settings.security.sessions.revokedOthers', { number: revokeOthers.data })}
        </Saved>
      )}
      <ul className="flex flex-col gap-2" data-testid="sessions-list">
        {sessions.data?.map(item)}
      </ul>
      {others.length > 0 && (
        <div>
          <button
            type="button"
            data-testid="sessions-revoke-others"
            disabled={revokeOthers.isPending}
            onClick={() => revokeOthers.mutate()}
            className={secondaryButtonClass}
          >
            {t('settings.security.sessions.revokeOthers')}
          </button>
        </div>
      )}
    </SettingsSection>
  );
}

function PasswordSection() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ next?: string; confirm?: string }>({});
  const [currentMissing, setCurrentMissing] = useState(false);
  const change = useMutation({
    mutationFn: changePassword,
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setConfirm('');
      // The server signs every other session out.
      void queryClient.invalidateQueries({ queryKey: sessionsKey });
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const found: typeof errors = {};
    if (next.length < minimumPasswordLength)
      found.next = t('auth.validation.passwordTooShort', { minimum: minimumPasswordLength });
    if (confirm !== next) found.confirm = t('auth.validation.passwordsDiffer');
    setErrors(found);
    setCurrentMissing(current === '');
    if (current !== '' && Object.keys(found).length === 0)
      change.mutate({ currentPassword: current, newPassword: next });
  };
  return (
    <SettingsSection id="password" title={t('settings.security.password.title')}>
      <MutationOutcome
        mutation={change}
        saved={t('settings.security.password.done')}
        savedTestId="password-changed"
        errorTestId="password-error"
      />
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4">
        <CurrentPasswordField
          id="password-current"
          label={t('settings.security.password.current')}
          value={current}
          onChange={setCurrent}
          missing={currentMissing}
        />
        <FormField
          id="password-new"
          label={t('auth.fields.newPassword')}
          hint={t('auth.fields.passwordHint', { minimum: minimumPasswordLength })}
          type="password"
          autoComplete="new-password"
          required
          value={next}
          error={errors.next}
          onChange={(event) => setNext(event.target.value)}
        />
        <FormField
          id="password-confirm"
          label={t('auth.fields.confirmPassword')}
          type="password"
          autoComplete="new-password"
          required
          value={confirm}
          error={errors.confirm}
          onChange={(event) => setConfirm(event.target.value)}
        />
        <FormActions
          testId="password-submit"
          label={t('settings.security.password.submit')}
          pending={change.isPending}
        />
      </form>
    </SettingsSection>
  );
}

function EmailSection({ account }: { account: Account }) {
  const { t } = useTranslation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [invalid, setInvalid] = useState(false);
  const [passwordMissing, setPasswordMissing] = useState(false);
  const change = useMutation({
    mutationFn: requestEmailChange,
    onSuccess: () => setPassword(''),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setInvalid(!isEmail(email));
    setPasswordMissing(password === '');
    if (isEmail(email) && password !== '') change.mutate({ newEmail: email.trim(), password });
  };
  return (
    <SettingsSection
      id="email"
      title={t('settings.security.email.title')}
      intro={
        <>
          {t('settings.security.email.current')} <bdi dir="ltr">{account.email}</bdi>
        </>
      }
    >
      <MutationOutcome
        mutation={change}
        saved={t('settings.security.email.sent', { email: email.trim() })}
        savedTestId="email-change-sent"
        errorTestId="email-error"
        conflictMessage={t('settings.security.email.conflict')}
      />
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4">
        <FormField
          id="email-new"
          label={t('settings.security.email.new')}
          type="email"
          autoComplete="email"
          dir="ltr"
          required
          value={email}
          error={invalid ? t('auth.validation.emailInvalid') : undefined}
          onChange={(event) => setEmail(event.target.value)}
        />
        <CurrentPasswordField
          id="email-password"
          value={password}
          onChange={setPassword}
          missing={passwordMissing}
        />
        <FormActions
          testId="email-submit"
          label={t('settings.security.email.submit')}
          pending={change.isPending}
        />
      </form>
    </SettingsSection>
  );
}
