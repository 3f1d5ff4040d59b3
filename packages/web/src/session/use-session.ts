import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { type Account, fetchAccount, fetchBalance, signOut } from '../api/auth';

export const accountQueryKey = ['account'] as const;
export const balanceQueryKey = ['billing', 'balance'] as const;

/** Who is signed in: `undefined` while the first answer is on its way, `null` when nobody is. */
export function useAccount(): { account: Account | null | undefined; isLoading: boolean } {
  const query = useQuery({
    queryKey: accountQueryKey,
    queryFn: ({ signal }) => fetchAccount(signal),
    staleTime: 60_000,
    retry: false,
  });
  return { account: query.data, isLoading: query.isPending };
}

/** The credit balance of the signed-in person; stays empty for visitors and servers without billing. */
export function useBalance(enabled: boolean) {
  return useQuery({
    queryKey: balanceQueryKey,
    queryFn: ({ signal }) => fetchBalance(signal),
    enabled,
    staleTime: 15_000,
    retry: false,
  });
}

/** Records a fresh sign-in so every page sees it without another round trip. */
export function useSignedIn() {
  const queryClient = useQueryClient();
  return useCallback(
    (account: Account) => {
      // Anything cached belonged to the previous visitor (or nobody): start clean, then record who is here.
      queryClient.clear();
      queryClient.setQueryData(accountQueryKey, account);
      // The sign-in answer does not say whether the person must set up two-step verification first; ask.
      void queryClient.invalidateQueries({ queryKey: accountQueryKey });
    },
    [queryClient],
  );
}

export function useSignOut() {
  const queryClient = useQueryClient();
  return useCallback(async () => {
    await signOut();
    // Conversations, keys and balances of the person who left must not stay readable in memory.
    queryClient.clear();
    queryClient.setQueryData(accountQueryKey, null);
  }, [queryClient]);
}
