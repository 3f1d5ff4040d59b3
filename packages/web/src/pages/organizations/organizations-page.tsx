import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { type FormEvent, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Account } from '../../api/auth';
import { ApiError } from '../../api/client';
import {
  changeRole,
  createOrganization,
  fetchOrganizationBalance,
  fetchOrganizationLedger,
  inviteMember,
  leaveOrganization,
  listInvitations,
  listMembers,
  listOrganizations,
  type Organization,
  type OrganizationMember,
  type OrganizationRole,
  organizationsQueryKey,
  removeMember,
  revokeInvitation,
  setLimits,
  transferToOrganization,
} from '../../api/organizations';
import { FormField } from '../../components/form-field';
import {
  DangerConfirmation,
  ErrorAlert,
  isEmail,
  PageHeading,
  SubmitButton,
  secondaryButtonClass,
  textLinkClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { useFormatDate } from '../../components/use-format-date';
import { useFormatNumber } from '../../components/use-format-number';
import { RequireAccount } from '../../session/require-account';
import { balanceQueryKey, useBalance } from '../../session/use-session';

const organizationKey = (id: string, part: string) => ['organizations', id, part] as const;

const selectClass =
  'rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100';
const smallDangerButtonClass =
  'rounded-md border border-red-700 px-3 py-1.5 text-sm font-medium text-red-800 hover:bg-red-50 disabled:opacity-60 dark:border-red-400 dark:text-red-300 dark:hover:bg-red-950';
const panelClass = 'flex flex-col gap-4 rounded-lg border border-slate-200 p-4 sm:p-6 dark:border-slate-800';

/** A whole number of credits typed by hand: empty is "none", anything else must be a non-negative integer. */
function parseCredits(value: string): number | null | 'invalid' {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  const parsed = Number(trimmed);
  return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : 'invalid';
}

export function OrganizationsPage({ selected }: { selected?: string | undefined }) {
  const { t } = useTranslation();
  useDocumentTitle(t('organizations.title'));
  return (
    <RequireAccount>
      {(account) => <OrganizationsContent account={account} selected={selected} />}
    </RequireAccount>
  );
}

function OrganizationsContent({ account, selected }: { account: Account; selected?: string | undefined }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const navigate = useNavigate();
  const organizations = useQuery({
    queryKey: organizationsQueryKey,
    queryFn: ({ signal }) => listOrganizations(signal),
  });
  const selectId = useId();
  const list = organizations.data ?? [];
  const current = list.find((organization) => organization.id === selected) ?? list[0];
  const choose = (id: string) => void navigate({ to: '/organizations', search: { id } });

  return (
    <div className="flex flex-col gap-10">
      <PageHeading
        id="organizations-title"
        title={t('organizations.title')}
        intro={t('organizations.intro')}
      />
      {organizations.isError && (
        <ErrorAlert testId="organizations-error">{explain(organizations.error)}</ErrorAlert>
      )}
      {organizations.isPending && <p role="status">{t('auth.loading')}</p>}
      {organizations.data?.length === 0 && (
        <p className="text-slate-700 dark:text-slate-300" data-testid="organizations-empty">
          {t('organizations.empty')}
        </p>
      )}
      {list.length > 1 && (
        <div className="flex flex-col gap-1.5 sm:max-w-sm">
          <label htmlFor={selectId} className="font-medium">
            {t('organizations.select')}
          </label>
          <select
            id={selectId}
            data-testid="organization-select"
            value={current?.id}
            onChange={(event) => choose(event.target.value)}
            className={selectClass}
          >
            {list.map((organization) => (
              <option key={organization.id} value={organization.id}>
                {organization.name}
              </option>
            ))}
          </select>
        </div>
      )}
      {current && <OrganizationDetails key={current.id} organization={current} account={account} />}
      <CreateOrganizationForm onCreated={(organization) => choose(organization.id)} />
    </div>
  );
}

function CreateOrganizationForm({ onCreated }: { onCreated: (organization: Organization) => void }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const create = useMutation({
    mutationFn: createOrganization,
    onSuccess: async (organization) => {
      setName('');
      await queryClient.invalidateQueries({ queryKey: organizationsQueryKey });
      onCreated(organization);
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 100) {
      setError(t('organizations.create.invalid'));
      return;
    }
    setError(undefined);
    create.mutate(trimmed);
  };
  return (
    <section aria-labelledby="create-organization-title" className={panelClass}>
      <h2 id="create-organization-title" className="text-xl font-bold">
        {t('organizations.create.title')}
      </h2>
      {create.isError && <ErrorAlert testId="create-organization-error">{explain(create.error)}</ErrorAlert>}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4" aria-busy={create.isPending}>
        <FormField
          id="organization-name"
          label={t('organizations.create.name')}
          hint={t('organizations.create.nameHint')}
          required
          maxLength={100}
          value={name}
          error={error}
          onChange={(event) => setName(event.target.value)}
        />
        <SubmitButton
          testId="create-organization-submit"
          pending={create.isPending}
          label={t('organizations.create.submit')}
          pendingLabel={t('organizations.create.submitting')}
        />
      </form>
    </section>
  );
}

function OrganizationDetails({ organization, account }: { organization: Organization; account: Account }) {
  const { t } = useTranslation();
  const owner = organization.role === 'owner';
  return (
    <section
      aria-labelledby="organization-name-title"
      data-testid="organization-details"
      className="flex flex-col gap-8"
    >
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="organization-name-title" className="text-2xl font-bold" data-testid="organization-title">
          <bdi>{organization.name}</bdi>
        </h2>
        <span className="rounded-full border border-indigo-300 bg-indigo-50 px-2 py-0.5 text-xs font-medium text-indigo-900 dark:border-indigo-700 dark:bg-indigo-950 dark:text-indigo-100">
          {t(`organizations.role.${organization.role}`)}
        </span>
        <span className="text-sm text-slate-600 dark:text-slate-400" data-testid="organization-members-count">
          {t('organizations.membersCount', { count: organization.members })}
        </span>
      </div>
      {!owner && <p className="text-slate-700 dark:text-slate-300">{t('organizations.memberView')}</p>}
      <div className="grid gap-6 lg:grid-cols-2 lg:items-start">
        <BalancePanel organization={organization} />
        {owner && <TransferForm organization={organization} />}
      </div>
      <p>
        <Link to="/keys" className={textLinkClass} data-testid="organization-keys-link">
          {t('organizations.keysLink')}
        </Link>
      </p>
      <MembersSection organization={organization} account={account} />
      {owner && <InvitationsSection organization={organization} />}
      <LedgerSection organization={organization} />
      <LeaveSection organization={organization} />
    </section>
  );
}

function BalancePanel({ organization }: { organization: Organization }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const formatCredits = useFormatNumber();
  const balance = useQuery({
    queryKey: organizationKey(organization.id, 'balance'),
    queryFn: ({ signal }) => fetchOrganizationBalance(organization.id, signal),
  });
  return (
    <section aria-labelledby="organization-balance-title" className={panelClass}>
      <h3 id="organization-balance-title" className="text-sm text-slate-600 dark:text-slate-400">
        {t('organizations.balance.title')}
      </h3>
      {balance.isError && (
        <ErrorAlert testId="organization-balance-error">{explain(balance.error)}</ErrorAlert>
      )}
      {balance.data && (
        <>
          <p className="text-3xl font-bold" data-testid="organization-balance">
            {t('account.credits', { credits: formatCredits(balance.data.available) })}
          </p>
          {balance.data.held > 0 && (
            <p className="text-sm">
              {t('organizations.balance.held', { credits: formatCredits(balance.data.held) })}
            </p>
          )}
        </>
      )}
    </section>
  );
}

function TransferForm({ organization }: { organization: Organization }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const formatCredits = useFormatNumber();
  const queryClient = useQueryClient();
  const personal = useBalance(true);
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string>();
  const [moved, setMoved] = useState<number>();
  // One key per attempt: a retry of the same amount after a lost answer reuses it, so nothing moves twice.
  const attempt = useRef<{ amount: number; key: string } | undefined>(undefined);
  const transfer = useMutation({
    mutationFn: (credits: number) => {
      if (attempt.current?.amount !== credits)
        attempt.current = { amount: credits, key: crypto.randomUUID() };
      return transferToOrganization(organization.id, credits, attempt.current.key);
    },
    onSuccess: (_result, credits) => {
      attempt.current = undefined;
      setAmount('');
      setMoved(credits);
      void queryClient.invalidateQueries({ queryKey: organizationKey(organization.id, 'balance') });
      void queryClient.invalidateQueries({ queryKey: organizationKey(organization.id, 'ledger') });
      void queryClient.invalidateQueries({ queryKey: balanceQueryKey });
    },
    onError: (failure) => {
      // Refused by the server: the next click is a new attempt. A lost answer keeps the key for the retry.
      if (failure instanceof ApiError && failure.status !== 0) attempt.current = undefined;
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const credits = parseCredits(amount);
    setMoved(undefined);
    if (credits === 'invalid' || credits === null || credits < 1) {
      setError(t('organizations.transfer.invalid'));
      return;
    }
    setError(undefined);
    transfer.mutate(credits);
  };
  const failure =
    transfer.error instanceof ApiError && transfer.error.code === 'insufficient_credits'
      ? t('organizations.transfer.insufficient')
      : transfer.error
        ? explain(transfer.error)
        : undefined;
  return (
    <section aria-labelledby="transfer-title" className={panelClass}>
      <h3 id="transfer-title" className="text-lg font-bold">
        {t('organizations.transfer.title')}
      </h3>
      {failure && <ErrorAlert testId="transfer-error">{failure}</ErrorAlert>}
      {moved !== undefined && (
        <p
          role="status"
          data-testid="transfer-done"
          className="font-medium text-emerald-800 dark:text-emerald-300"
        >
          {t('organizations.transfer.done', { credits: formatCredits(moved) })}
        </p>
      )}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4" aria-busy={transfer.isPending}>
        <FormField
          id="transfer-amount"
          label={t('organizations.transfer.amount')}
          hint={t('organizations.transfer.hint', {
            credits: formatCredits(personal.data?.available ?? 0),
          })}
          inputMode="numeric"
          dir="ltr"
          value={amount}
          error={error}
          onChange={(event) => setAmount(event.target.value)}
        />
        <SubmitButton
          testId="transfer-submit"
          pending={transfer.isPending}
          label={t('organizations.transfer.submit')}
          pendingLabel={t('organizations.transfer.submitting')}
        />
      </form>
    </section>
  );
}

function MembersSection({ organization, account }: { organization: Organization; account: Account }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const members = useQuery({
    queryKey: organizationKey(organization.id, 'members'),
    queryFn: ({ signal }) => listMembers(organization.id, signal),
  });
  return (
    <section aria-labelledby="members-title" className="flex flex-col gap-4">
      <h3 id="members-title" className="text-xl font-bold">
        {t('organizations.members.title')}
      </h3>
      {members.isError && <ErrorAlert testId="members-error">{explain(members.error)}</ErrorAlert>}
      <ul className="flex flex-col gap-3" data-testid="members-list">
        {members.data?.map((member) => (
          <MemberItem
            key={member.userId}
            organization={organization}
            member={member}
            isMe={member.userId === account.id}
          />
        ))}
      </ul>
    </section>
  );
}

function MemberItem({
  organization,
  member,
  isMe,
}: {
  organization: Organization;
  member: OrganizationMember;
  isMe: boolean;
}) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const formatCredits = useFormatNumber();
  const queryClient = useQueryClient();
  const owner = organization.role === 'owner';
  const roleId = useId();
  const [monthly, setMonthly] = useState(member.monthlyCreditLimit?.toString() ?? '');
  const [daily, setDaily] = useState(member.dailyCreditLimit?.toString() ?? '');
  const [errors, setErrors] = useState<{ monthly?: string; daily?: string }>({});
  const [saved, setSaved] = useState(false);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: organizationKey(organization.id, 'members') });
    void queryClient.invalidateQueries({ queryKey: organizationsQueryKey });
  };
  const explainMemberError = (error: unknown) =>
    error instanceof ApiError && error.code === 'conflict'
      ? t('organizations.members.lastOwner')
      : explain(error);
  const role = useMutation({
    mutationFn: (next: OrganizationRole) => changeRole(organization.id, member.userId, next),
    onSuccess: refresh,
  });
  const limits = useMutation({
    mutationFn: (next: { monthlyCreditLimit: number | null; dailyCreditLimit: number | null }) =>
      setLimits(organization.id, member.userId, next),
    onSuccess: () => {
      setSaved(true);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: () => removeMember(organization.id, member.userId),
    onSuccess: refresh,
  });
  const onSaveLimits = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const monthlyCreditLimit = parseCredits(monthly);
    const dailyCreditLimit = parseCredits(daily);
    const found = {
      ...(monthlyCreditLimit === 'invalid' ? { monthly: t('organizations.members.limitInvalid') } : {}),
      ...(dailyCreditLimit === 'invalid' ? { daily: t('organizations.members.limitInvalid') } : {}),
    };
    setErrors(found);
    if (monthlyCreditLimit === 'invalid' || dailyCreditLimit === 'invalid') return;
    limits.mutate({ monthlyCreditLimit, dailyCreditLimit });
  };
  const limitText = (value: number | null) =>
    value === null ? t('organizations.members.noLimit') : formatCredits(value);
  const failure = role.error ?? limits.error ?? remove.error;

  return (
    <li
      data-testid="member-item"
      data-email={member.email}
      className="flex flex-col gap-3 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
    >
      <div className="flex flex-wrap items-center gap-2">
        <span className="font-semibold">
          <bdi>{member.name || member.email}</bdi>
        </span>
        {isMe && (
          <span className="text-sm text-slate-600 dark:text-slate-400">
            ({t('organizations.members.you')})
          </span>
        )}
        <span dir="ltr" className="text-sm text-slate-600 dark:text-slate-400">
          {member.email}
        </span>
        {!owner && (
          <span className="rounded-full border border-slate-300 px-2 py-0.5 text-xs font-medium dark:border-slate-600">
            {t(`organizations.role.${member.role}`)}
          </span>
        )}
      </div>
      {failure && <ErrorAlert testId="member-error">{explainMemberError(failure)}</ErrorAlert>}
      {owner ? (
        <form noValidate onSubmit={onSaveLimits} className="flex flex-col gap-3">
          <div className="grid gap-4 sm:grid-cols-3">
            <div className="flex flex-col gap-1.5">
              <label htmlFor={roleId} className="font-medium">
                {t('organizations.invite.role')}
              </label>
              <select
                id={roleId}
                data-testid="member-role"
                aria-label={t('organizations.members.roleOf', { name: member.name || member.email })}
                value={member.role}
                disabled={role.isPending}
                onChange={(event) => role.mutate(event.target.value as OrganizationRole)}
                className={selectClass}
              >
                <option value="member">{t('organizations.role.member')}</option>
                <option value="owner">{t('organizations.role.owner')}</option>
              </select>
            </div>
            <FormField
              id={`member-monthly-${member.userId}`}
              label={t('organizations.members.monthly')}
              hint={t('organizations.members.limitHint')}
              inputMode="numeric"
              dir="ltr"
              value={monthly}
              error={errors.monthly}
              onChange={(event) => setMonthly(event.target.value)}
            />
            <FormField
              id={`member-daily-${member.userId}`}
              label={t('organizations.members.daily')}
              hint={t('organizations.members.limitHint')}
              inputMode="numeric"
              dir="ltr"
              value={daily}
              error={errors.daily}
              onChange={(event) => setDaily(event.target.value)}
            />
          </div>
          <div className="flex flex-wrap items-center gap-3">
            <button
              type="submit"
              data-testid="member-save-limits"
              aria-label={t('organizations.members.saveNamed', { name: member.name || member.email })}
              disabled={limits.isPending}
              className={secondaryButtonClass}
            >
              {t('organizations.members.save')}
            </button>
            {saved && (
              <span role="status" className="text-sm text-emerald-800 dark:text-emerald-300">
                {t('organizations.members.saved')}
              </span>
            )}
            {!isMe && (
              <button
                type="button"
                data-testid="member-remove"
                aria-label={t('organizations.members.removeNamed', { name: member.name || member.email })}
                disabled={remove.isPending}
                onClick={() => remove.mutate()}
                className={smallDangerButtonClass}
              >
                {t('organizations.members.remove')}
              </button>
            )}
          </div>
        </form>
      ) : (
        isMe && (
          <dl className="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
            <div>
              <dt className="text-slate-600 dark:text-slate-400">{t('organizations.members.monthly')}</dt>
              <dd>{limitText(member.monthlyCreditLimit)}</dd>
            </div>
            <div>
              <dt className="text-slate-600 dark:text-slate-400">{t('organizations.members.daily')}</dt>
              <dd>{limitText(member.dailyCreditLimit)}</dd>
            </div>
          </dl>
        )
      )}
    </li>
  );
}

function InvitationsSection({ organization }: { organization: Organization }) {
  const { t, i18n } = useTranslation();
  const explain = useErrorMessage();
  const formatDate = useFormatDate();
  const queryClient = useQueryClient();
  const roleId = useId();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<OrganizationRole>('member');
  const [error, setError] = useState<string>();
  const [sentTo, setSentTo] = useState<string>();
  const invitations = useQuery({
    queryKey: organizationKey(organization.id, 'invitations'),
    queryFn: ({ signal }) => listInvitations(organization.id, signal),
  });
  const refresh = () =>
    void queryClient.invalidateQueries({ queryKey: organizationKey(organization.id, 'invitations') });
  const invite = useMutation({
    mutationFn: (options: { email: string; role: OrganizationRole }) =>
      inviteMember(organization.id, { ...options, locale: i18n.resolvedLanguage ?? 'fr' }),
    onSuccess: (_result, options) => {
      setEmail('');
      setSentTo(options.email);
      refresh();
    },
  });
  const withdraw = useMutation({
    mutationFn: (invitationId: string) => revokeInvitation(organization.id, invitationId),
    // Refreshed on a refusal too: a 409 means it was accepted meanwhile, so the list should stop offering it and
    // the members (and their count in the heading) should show the newcomer.
    onSettled: () => void queryClient.invalidateQueries({ queryKey: organizationsQueryKey }),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setSentTo(undefined);
    if (!isEmail(email)) {
      setError(t('organizations.invite.invalid'));
      return;
    }
    setError(undefined);
    invite.mutate({ email: email.trim(), role });
  };
  const inviteFailure =
    invite.error instanceof ApiError && invite.error.code === 'conflict'
      ? t('organizations.invite.alreadyMember')
      : invite.error
        ? explain(invite.error)
        : undefined;

  return (
    <section aria-labelledby="invite-title" className={panelClass}>
      <h3 id="invite-title" className="text-xl font-bold">
        {t('organizations.invite.title')}
      </h3>
      {inviteFailure && <ErrorAlert testId="invite-error">{inviteFailure}</ErrorAlert>}
      {sentTo && (
        <p
          role="status"
          data-testid="invite-sent"
          className="font-medium text-emerald-800 dark:text-emerald-300"
        >
          {t('organizations.invite.sent', { email: sentTo })}
        </p>
      )}
      <form noValidate onSubmit={onSubmit} className="flex flex-col gap-4 sm:flex-row sm:items-end">
        <div className="sm:flex-1">
          <FormField
            id="invite-email"
            label={t('organizations.invite.email')}
            type="email"
            dir="ltr"
            autoComplete="off"
            value={email}
            error={error}
            onChange={(event) => setEmail(event.target.value)}
          />
        </div>
        <div className="flex flex-col gap-1.5">
          <label htmlFor={roleId} className="font-medium">
            {t('organizations.invite.role')}
          </label>
          <select
            id={roleId}
            data-testid="invite-role"
            value={role}
            onChange={(event) => setRole(event.target.value as OrganizationRole)}
            className={selectClass}
          >
            <option value="member">{t('organizations.role.member')}</option>
            <option value="owner">{t('organizations.role.owner')}</option>
          </select>
        </div>
        <SubmitButton
          testId="invite-submit"
          pending={invite.isPending}
          label={t('organizations.invite.submit')}
          pendingLabel={t('organizations.invite.submitting')}
        />
      </form>
      <h4 className="font-semibold">{t('organizations.invitations.title')}</h4>
      {invitations.isError && (
        <ErrorAlert testId="invitations-error">{explain(invitations.error)}</ErrorAlert>
      )}
      {withdraw.isError && (
        <ErrorAlert testId="withdraw-error">
          {withdraw.error instanceof ApiError && withdraw.error.code === 'conflict'
            ? t('organizations.invitations.alreadyAccepted')
            : explain(withdraw.error)}
        </ErrorAlert>
      )}
      {invitations.data?.length === 0 && (
        <p className="text-slate-600 dark:text-slate-400">{t('organizations.invitations.empty')}</p>
      )}
      <ul
        className="flex flex-col divide-y divide-slate-200 dark:divide-slate-800"
        data-testid="invitations-list"
      >
        {invitations.data?.map((invitation) => (
          <li
            key={invitation.id}
            data-testid="invitation-item"
            className="flex flex-wrap items-center gap-3 py-2"
          >
            <span dir="ltr" className="font-medium">
              {invitation.email}
            </span>
            <span className="text-sm">{t(`organizations.role.${invitation.role}`)}</span>
            <span className="rounded-full border border-slate-300 px-2 py-0.5 text-xs dark:border-slate-600">
              {t(`organizations.invitations.status.${invitation.status}`)}
            </span>
            {invitation.status === 'pending' && (
              <>
                <span className="text-sm text-slate-600 dark:text-slate-400">
                  {t('organizations.invitations.expires', { date: formatDate(invitation.expiresAt) })}
                </span>
                <button
                  type="button"
                  data-testid="invitation-withdraw"
                  disabled={withdraw.isPending}
                  onClick={() => withdraw.mutate(invitation.id)}
                  className={smallDangerButtonClass}
                >
                  {t('organizations.invitations.withdraw')}
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function LedgerSection({ organization }: { organization: Organization }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const formatCredits = useFormatNumber();
  const formatDate = useFormatDate();
  const ledger = useQuery({
    queryKey: organizationKey(organization.id, 'ledger'),
    queryFn: ({ signal }) => fetchOrganizationLedger(organization.id, signal),
  });
  const kinds = ['top_up', 'grant', 'plan_credit', 'usage', 'refund', 'adjustment', 'transfer'] as const;
  const kindLabel = (kind: string) =>
    (kinds as readonly string[]).includes(kind)
      ? t(`organizations.ledger.kind.${kind as (typeof kinds)[number]}`)
      : kind;
  return (
    <section aria-labelledby="ledger-title" className="flex flex-col gap-3">
      <h3 id="ledger-title" className="text-xl font-bold">
        {organization.role === 'owner'
          ? t('organizations.ledger.title')
          : t('organizations.ledger.titleMine')}
      </h3>
      {ledger.isError && <ErrorAlert testId="ledger-error">{explain(ledger.error)}</ErrorAlert>}
      {ledger.data?.length === 0 && (
        <p className="text-slate-600 dark:text-slate-400">{t('organizations.ledger.empty')}</p>
      )}
      {ledger.data && ledger.data.length > 0 && (
        <table className="w-full text-sm" data-testid="organization-ledger">
          <tbody>
            {ledger.data.map((entry) => (
              <tr key={entry.id} className="border-b border-slate-100 dark:border-slate-900">
                <td className="py-1.5 text-start">{formatDate(entry.createdAt)}</td>
                <td className="py-1.5 text-start">
                  {kindLabel(entry.kind)}
                  {entry.model && (
                    <span dir="ltr" className="ms-2 text-slate-600 dark:text-slate-400">
                      {entry.model}
                    </span>
                  )}
                </td>
                <td className="py-1.5 text-end font-medium" dir="ltr">
                  {entry.amount > 0 ? '+' : '−'}
                  {formatCredits(Math.abs(entry.amount))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function LeaveSection({ organization }: { organization: Organization }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const leave = useMutation({
    mutationFn: () => leaveOrganization(organization.id),
    onSuccess: async () => {
      setConfirming(false);
      await queryClient.invalidateQueries({ queryKey: organizationsQueryKey });
      void navigate({ to: '/organizations', search: {} });
    },
  });
  const failure =
    leave.error instanceof ApiError && leave.error.code === 'conflict'
      ? t('organizations.members.lastOwner')
      : leave.error
        ? explain(leave.error)
        : undefined;
  return (
    <section className="flex flex-col gap-3">
      {failure && <ErrorAlert testId="leave-error">{failure}</ErrorAlert>}
      {confirming ? (
        <DangerConfirmation
          message={t('organizations.leave.confirm', { name: organization.name })}
          confirm={t('organizations.leave.yes')}
          confirmTestId="leave-confirm"
          pending={leave.isPending}
          onConfirm={() => leave.mutate()}
          onCancel={() => setConfirming(false)}
        />
      ) : (
        <div>
          <button
            type="button"
            data-testid="leave-organization"
            onClick={() => setConfirming(true)}
            className={smallDangerButtonClass}
          >
            {t('organizations.leave.button')}
          </button>
        </div>
      )}
    </section>
  );
}
