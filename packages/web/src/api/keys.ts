import { apiRequest } from './client';

/** One virtual API key as `GET /api/keys` lists it; the secret itself is never returned again. */
export interface ApiKey {
  id: string;
  name: string;
  /** The visible start of the secret, enough to recognise the key in a config file. */
  prefix: string;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** Requests per day and credits per day / month (midnight in the billing time zone); null means no limit. */
  dailyRequestQuota: number | null;
  dailyCreditBudget: number | null;
  monthlyCreditBudget: number | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  /** The organisation whose wallet pays for this key's calls; null when the owner's own wallet pays. */
  organizationId: string | null;
}

export interface NewApiKey {
  name: string;
  allowedModels?: string[];
  rpmLimit?: number;
  tpmLimit?: number;
  dailyRequestQuota?: number;
  dailyCreditBudget?: number;
  monthlyCreditBudget?: number;
  /** ISO date-time in the future. */
  expiresAt?: string;
  /** An organisation the person belongs to: its wallet pays for the key's calls. */
  organizationId?: string;
}

export async function listKeys(signal?: AbortSignal): Promise<ApiKey[]> {
  const response = await apiRequest<{ keys: ApiKey[] }>('/api/keys', signal ? { signal } : {});
  return response.keys;
}

/** Creates a key; `key` is the full secret, shown to the person this one time. */
export function createKey(options: NewApiKey): Promise<{ key: string; summary: ApiKey }> {
  return apiRequest('/api/keys', { method: 'POST', body: options });
}

export async function revokeKey(id: string): Promise<ApiKey> {
  const response = await apiRequest<{ key: ApiKey }>(`/api/keys/${encodeURIComponent(id)}`, {
    method: 'DELETE',
  });
  return response.key;
}

/** The largest budgets the server accepts (billing's MAX_BUDGET_CREDITS and MAX_DAILY_REQUESTS). */
export const MAX_BUDGET_CREDITS = 1_000_000_000;
export const MAX_DAILY_REQUESTS = 10_000_000;

/** Every model and alias the gateway routes (chat, embeddings...), which a key can be limited to. */
export async function listAllModels(signal?: AbortSignal): Promise<Array<{ id: string; owned_by: string }>> {
  const response = await apiRequest<{ data: Array<{ id: string; owned_by: string }> }>(
    '/v1/models',
    signal ? { signal } : {},
  );
  return response.data;
}
