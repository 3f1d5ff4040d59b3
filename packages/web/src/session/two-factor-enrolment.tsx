import { useQueryClient } from '@tanstack/react-query';
import { useNavigate, useRouterState } from '@tanstack/react-router';
import { useEffect } from 'react';
import { twoFactorRequiredEvent } from '../api/client';
import { accountQueryKey, useAccount } from './use-session';

/** Pages that work without the account's other routes: the set-up itself, and the ones reached from emails. */
const openWhileEnrolling = [
  '/settings/security',
  '/sign-in',
  '/sign-up',
  '/forgot-password',
  '/verify-email',
  '/reset-password',
  '/confirm-email-change',
  '/setup',
];

/**
 * Takes staff who must set up two-step verification (security policy) to the set-up page from any other page,
 * and keeps them there until it is on. Also re-reads the account when any call is refused for that reason (the
 * policy can be turned on while the page is open).
 */
export function TwoFactorEnrolmentRedirect() {
  const { account } = useAccount();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const pathname = useRouterState({ select: (state) => state.location.pathname });
  const mustEnrol = account?.twoFactorSetupRequired === true;

  useEffect(() => {
    const reread = () => void queryClient.invalidateQueries({ queryKey: accountQueryKey });
    window.addEventListener(twoFactorRequiredEvent, reread);
    return () => window.removeEventListener(twoFactorRequiredEvent, reread);
  }, [queryClient]);

  useEffect(() => {
    const path = pathname.replace(/\/$/, '') || '/';
    if (mustEnrol && !openWhileEnrolling.includes(path)) {
      void navigate({ to: '/settings/security', replace: true });
    }
  }, [mustEnrol, pathname, navigate]);

  return null;
}
