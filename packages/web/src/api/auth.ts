import type { LanguageCode } from '../i18n/languages';
import { ApiError, apiRequest } from './client';

/** The signed-in account as `GET /api/account` describes it (the fields the web uses). */
export interface Account {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'support' | 'admin';
  emailVerified: boolean;
  locale: LanguageCode;
  twoFactorEnabled: boolean;
  theme: 'system' | 'light' | 'dark';
  /** IANA time zone, such as Africa/Algiers. */
  timeZone: string;
  notificationPreferences: { product: boolean; billing: boolean; marketing: boolean };
  avatarUrl: string | null;
  /** False for accounts created through Google or GitHub only. */
  hasPassword: boolean;
  /** When the account is erased unless the person cancels or signs in again first. */
  deletionScheduledFor: string | null;
  createdAt: string;
  /**
   * Staff whom the security policy obliges to use two-step verification and who have not set it up yet: until
   * they do, the server refuses them everything but enrolment. Only `GET /api/account` says it.
   */
  twoFactorSetupRequired?: boolean;
}

export type SignInResult =
  | { status: 'signed_in'; user: Account }
  | { status: 'two_factor_required'; challengeToken: string };

/** Creates an account; the server answers the same whether or not the address is taken. */
export async function signUp(options: {
  name: string;
  email: string;
  password: string;
  locale: LanguageCode;
}): Promise<void> {
  await apiRequest('/api/auth/sign-up', { method: 'POST', body: options, refreshOnUnauthenticated: false });
}

export function signIn(options: { email: string; password: string }): Promise<SignInResult> {
  return apiRequest<SignInResult>('/api/auth/sign-in', {
    method: 'POST',
    body: { ...options, tokenDelivery: 'cookie' },
    refreshOnUnauthenticated: false,
  });
}

export function completeTwoFactorSignIn(options: {
  challengeToken: string;
  code: string;
}): Promise<SignInResult> {
  return apiRequest<SignInResult>('/api/auth/sign-in/two-factor', {
    method: 'POST',
    body: { ...options, tokenDelivery: 'cookie' },
    refreshOnUnauthenticated: false,
  });
}

export async function signOut(): Promise<void> {
  try {
    await apiRequest('/api/auth/sign-out', { method: 'POST' });
  } catch (error) {
    // An already ended session is the outcome we wanted; anything else is worth reporting.
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
}

export async function verifyEmail(token: string): Promise<void> {
  await apiRequest('/api/auth/verify-email', {
    method: 'POST',
    body: { token },
    refreshOnUnauthenticated: false,
  });
}

export async function resendVerification(): Promise<void> {
  await apiRequest('/api/auth/verify-email/resend', { method: 'POST' });
}

export async function requestPasswordReset(email: string): Promise<void> {
  await apiRequest('/api/auth/password-reset/request', {
    method: 'POST',
    body: { email },
    refreshOnUnauthenticated: false,
  });
}

export async function resetPassword(options: { token: string; password: string }): Promise<void> {
  await apiRequest('/api/auth/password-reset/confirm', {
    method: 'POST',
    body: options,
    refreshOnUnauthenticated: false,
  });
}

export async function confirmEmailChange(token: string): Promise<void> {
  await apiRequest('/api/auth/email-change/confirm', {
    method: 'POST',
    body: { token },
    refreshOnUnauthenticated: false,
  });
}

/** The signed-in account, or null when nobody is signed in (a 401 is an answer here, not a failure). */
export async function fetchAccount(signal?: AbortSignal): Promise<Account | null> {
  try {
    const response = await apiRequest<{ user: Account; twoFactorSetupRequired: boolean }>(
      '/api/account',
      signal ? { signal } : {},
    );
    return { ...response.user, twoFactorSetupRequired: response.twoFactorSetupRequired };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** What `GET /api/billing/balance` answers (the fields the web shows). */
export interface Balance {
  balance: number;
  held: number;
  available: number;
  display: Array<{ currency: string; minor: number; formatted: string }>;
}

/** The credit balance, or null where this server has no billing (self-hosted without credits). */
export async function fetchBalance(signal?: AbortSignal): Promise<Balance | null> {
  try {
    return await apiRequest<Balance>('/api/billing/balance', signal ? { signal } : {});
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 401)) return null;
    throw error;
  }
}
