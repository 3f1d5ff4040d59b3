import type { LanguageCode } from '../i18n/languages';
import type { Account } from './auth';
import { apiRequest, errorOf, fetchWithSession } from './client';

export type Theme = 'system' | 'light' | 'dark';

export interface NotificationPreferences {
  product: boolean;
  billing: boolean;
  marketing: boolean;
}

export interface ProfileChanges {
  name?: string;
  locale?: LanguageCode;
  theme?: Theme;
  timeZone?: string;
  notificationPreferences?: Partial<NotificationPreferences>;
}

export async function updateProfile(changes: ProfileChanges): Promise<Account> {
  const response = await apiRequest<{ user: Account }>('/api/account/profile', {
    method: 'PATCH',
    body: changes,
  });
  return response.user;
}

/** Avatar types the server accepts; it re-encodes them (WebP, no metadata) before storing. */
export const avatarTypes = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const;
export const avatarMaxBytes = 5 * 1024 * 1024;

/** Sends the image bytes as the raw body: JSON would inflate them by a third for nothing. */
export async function uploadAvatar(file: File): Promise<Account> {
  const response = await fetchWithSession('/api/account/avatar', {
    method: 'PUT',
    headers: { 'content-type': file.type, accept: 'application/json' },
    body: file,
  });
  if (!response.ok) throw await errorOf(response);
  return ((await response.json()) as { user: Account }).user;
}

export async function removeAvatar(): Promise<void> {
  await apiRequest('/api/account/avatar', { method: 'DELETE' });
}

export interface Session {
  id: string;
  method: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

export async function listSessions(signal?: AbortSignal): Promise<Session[]> {
  const response = await apiRequest<{ sessions: Session[] }>(
    '/api/account/sessions',
    signal ? { signal } : {},
  );
  return response.sessions;
}

export async function revokeSession(id: string): Promise<void> {
  await apiRequest(`/api/account/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export async function revokeOtherSessions(): Promise<number> {
  const response = await apiRequest<{ revoked: number }>('/api/account/sessions/revoke-others', {
    method: 'POST',
    body: {},
  });
  return response.revoked;
}

export async function changePassword(options: {
  currentPassword: string;
  newPassword: string;
}): Promise<void> {
  await apiRequest('/api/account/password', { method: 'POST', body: options });
}

export async function requestEmailChange(options: { password: string; newEmail: string }): Promise<void> {
  await apiRequest('/api/account/email', { method: 'POST', body: options });
}

export interface TwoFactorStatus {
  enabled: boolean;
  enabledAt: string | null;
  backupCodesLeft: number;
}

export function fetchTwoFactorStatus(signal?: AbortSignal): Promise<TwoFactorStatus> {
  return apiRequest('/api/account/two-factor', signal ? { signal } : {});
}

/** A new secret (not active until confirmed) with its QR code as a PNG data URL. */
export function startTwoFactorSetup(): Promise<{ secret: string; otpauthUrl: string; qrCode: string }> {
  return apiRequest('/api/account/two-factor/setup', { method: 'POST', body: {} });
}

/** How a 2FA change is confirmed: the password, or for an account without one (`hasPassword`) an emailed code. */
export type AccountProof = { password: string } | { emailCode: string };

/** Emails the code that confirms turning 2FA on or off, for an account without a password. */
export async function sendTwoFactorEmailCode(action: 'enable' | 'disable'): Promise<void> {
  await apiRequest('/api/account/two-factor/email-code', { method: 'POST', body: { action } });
}

export async function enableTwoFactor(options: { code: string } & AccountProof): Promise<string[]> {
  const response = await apiRequest<{ backupCodes: string[] }>('/api/account/two-factor/enable', {
    method: 'POST',
    body: options,
  });
  return response.backupCodes;
}

export async function disableTwoFactor(options: { code: string } & AccountProof): Promise<void> {
  await apiRequest('/api/account/two-factor/disable', { method: 'POST', body: options });
}

export async function regenerateBackupCodes(code: string): Promise<string[]> {
  const response = await apiRequest<{ backupCodes: string[] }>('/api/account/two-factor/backup-codes', {
    method: 'POST',
    body: { code },
  });
  return response.backupCodes;
}

/** Read by the browser as a download: a plain link carries the session cookie. */
export const accountExportUrl = '/api/account/export';

export async function scheduleDeletion(password: string | undefined): Promise<string> {
  const response = await apiRequest<{ deletionScheduledFor: string }>('/api/account/deletion', {
    method: 'POST',
    body: password === undefined ? {} : { password },
  });
  return response.deletionScheduledFor;
}

export async function cancelDeletion(): Promise<void> {
  await apiRequest('/api/account/deletion', { method: 'DELETE' });
}

/** One entry of the personal security journal (`GET /api/account/activity`). */
export interface ActivityEvent {
  id: string;
  type: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
}

/** A page of the journal, newest first; `beforeId` (the last id of the previous page) asks for the next one. */
export async function fetchActivity(
  options: { types?: string; beforeId?: string; limit: number },
  signal?: AbortSignal,
): Promise<ActivityEvent[]> {
  const query = new URLSearchParams({ limit: String(options.limit) });
  if (options.types) query.set('types', options.types);
  if (options.beforeId) query.set('beforeId', options.beforeId);
  const response = await apiRequest<{ events: ActivityEvent[] }>(
    `/api/account/activity?${query}`,
    signal ? { signal } : {},
  );
  return response.events;
}
