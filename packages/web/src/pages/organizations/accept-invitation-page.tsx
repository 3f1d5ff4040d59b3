import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { acceptInvitation, organizationsQueryKey } from '../../api/organizations';
import {
  ErrorAlert,
  PageHeading,
  primaryButtonClass,
  SuccessPanel,
  textLinkClass,
  useErrorMessage,
} from '../../components/form-layout';
import { useDocumentTitle } from '../../components/use-document-title';
import { RequireAccount } from '../../session/require-account';

/**
 * The page an invitation email links to (`/organizations/accept?token=`). Joining takes a click, not just a visit,
 * so a link opened by a mail scanner does not use the invitation up.
 */
export function AcceptInvitationPage({ token }: { token?: string | undefined }) {
  const { t } = useTranslation();
  useDocumentTitle(t('organizations.accept.title'));
  return <RequireAccount>{() => <AcceptInvitation token={token} />}</RequireAccount>;
}

function AcceptInvitation({ token }: { token?: string | undefined }) {
  const { t } = useTranslation();
  const explain = useErrorMessage();
  const queryClient = useQueryClient();
  const accept = useMutation({
    mutationFn: acceptInvitation,
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: organizationsQueryKey }),
  });
  const failure = (() => {
    const error = accept.error;
    if (!error) return undefined;
    if (error instanceof ApiError) {
      if (error.code === 'token_invalid') return t('organizations.accept.invalid');
      if (error.code === 'forbidden') return t('organizations.accept.wrongAccount');
      if (error.code === 'conflict') return t('organizations.accept.already');
    }
    return explain(error);
  })();

  return (
    <div className="flex max-w-xl flex-col gap-6">
      <PageHeading
        id="accept-title"
        title={t('organizations.accept.title')}
        intro={t('organizations.accept.body')}
      />
      {!token && <ErrorAlert testId="accept-missing">{t('organizations.accept.missing')}</ErrorAlert>}
      {failure && <ErrorAlert testId="accept-error">{failure}</ErrorAlert>}
      {accept.data ? (
        <SuccessPanel
          testId="accept-success"
          title={t('organizations.accept.success', { name: accept.data.organization.name })}
        >
          <p>
            <Link to="/organizations" search={{ id: accept.data.organization.id }} className={textLinkClass}>
              {t('organizations.accept.open')}
            </Link>
          </p>
        </SuccessPanel>
      ) : (
        token && (
          <div>
            <button
              type="button"
              data-testid="accept-submit"
              disabled={accept.isPending}
              onClick={() => accept.mutate(token)}
              className={primaryButtonClass}
            >
              {accept.isPending ? t('organizations.accept.submitting') : t('organizations.accept.submit')}
            </button>
          </div>
        )
      )}
    </div>
  );
}
