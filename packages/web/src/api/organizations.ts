import { apiRequest } from './client';

export type OrganizationRole = 'owner' | 'member';

/** An organisation as the signed-in person sees it, with their role in it. */
export interface Organization {
  id: string;
  name: string;
  role: OrganizationRole;
  members: number;
  createdAt: string;
}

export interface OrganizationMember {
  userId: string;
  email: string;
  name: string;
  role: OrganizationRole;
  /** Credits per local month the member may spend; null = no limit of their own (or not shown to you). */
  monthlyCreditLimit: number | null;
  dailyCreditLimit: number | null;
  joinedAt: string;
}

export interface OrganizationInvitation {
  id: string;
  email: string;
  role: OrganizationRole;
  status: 'pending' | 'accepted' | 'expired' | 'revoked';
  expiresAt: string;
  acceptedAt: string | null;
  createdAt: string;
}

export interface OrganizationBalance {
  walletId: string;
  balance: number;
  held: number;
  available: number;
  display: Array<{ currency: string; minor: number; formatted: string }>;
}

export interface OrganizationEntry {
  id: string;
  kind: string;
  amount: number;
  balanceAfter: number;
  createdAt: string;
  memberUserId: string | null;
  model: string | null;
  reason: string | null;
}

/** The signed-in person's organisations, in the query cache (pages that change them refresh it). */
export const organizationsQueryKey = ['organizations'] as const;

const base = (id: string) => `/api/organizations/${encodeURIComponent(id)}`;

export async function listOrganizations(signal?: AbortSignal): Promise<Organization[]> {
  const response = await apiRequest<{ organizations: Organization[] }>(
    '/api/organizations',
    signal ? { signal } : {},
  );
  return response.organizations;
}

export async function createOrganization(name: string): Promise<Organization> {
  const response = await apiRequest<{ organization: Organization }>('/api/organizations', {
    method: 'POST',
    body: { name },
  });
  return response.organization;
}

export async function listMembers(id: string, signal?: AbortSignal): Promise<OrganizationMember[]> {
  const response = await apiRequest<{ members: OrganizationMember[] }>(
    `${base(id)}/members`,
    signal ? { signal } : {},
  );
  return response.members;
}

export async function listInvitations(id: string, signal?: AbortSignal): Promise<OrganizationInvitation[]> {
  const response = await apiRequest<{ invitations: OrganizationInvitation[] }>(
    `${base(id)}/invitations`,
    signal ? { signal } : {},
  );
  return response.invitations;
}

export function fetchOrganizationBalance(id: string, signal?: AbortSignal): Promise<OrganizationBalance> {
  return apiRequest(`${base(id)}/balance`, signal ? { signal } : {});
}

export async function fetchOrganizationLedger(
  id: string,
  signal?: AbortSignal,
): Promise<OrganizationEntry[]> {
  const response = await apiRequest<{ entries: OrganizationEntry[] }>(
    `${base(id)}/ledger?limit=20`,
    signal ? { signal } : {},
  );
  return response.entries;
}

export function inviteMember(
  id: string,
  options: { email: string; role: OrganizationRole; locale?: string },
): Promise<{ invitation: OrganizationInvitation }> {
  return apiRequest(`${base(id)}/invitations`, { method: 'POST', body: options });
}

export function revokeInvitation(id: string, invitationId: string) {
  return apiRequest(`${base(id)}/invitations/${encodeURIComponent(invitationId)}`, { method: 'DELETE' });
}

export function changeRole(id: string, userId: string, role: OrganizationRole) {
  return apiRequest(`${base(id)}/members/${encodeURIComponent(userId)}`, {
    method: 'PATCH',
    body: { role },
  });
}

export function setLimits(
  id: string,
  userId: string,
  limits: { monthlyCreditLimit: number | null; dailyCreditLimit: number | null },
) {
  return apiRequest(`${base(id)}/members/${encodeURIComponent(userId)}/limits`, {
    method: 'PUT',
    body: limits,
  });
}

export function removeMember(id: string, userId: string) {
  return apiRequest(`${base(id)}/members/${encodeURIComponent(userId)}`, { method: 'DELETE' });
}

export function leaveOrganization(id: string) {
  return apiRequest(`${base(id)}/leave`, { method: 'POST' });
}

/**
 * Moves credits from the signed-in owner's wallet into the organisation's. `idempotencyKey` is made once per
 * attempt by the caller, so a retried click or a lost answer never moves the credits twice.
 */
export async function transferToOrganization(
  id: string,
  amount: number,
  idempotencyKey: string,
): Promise<{ organizationBalance: number; personalBalance: number; duplicate: boolean }> {
  return apiRequest(`${base(id)}/transfers`, {
    method: 'POST',
    body: { amount },
    headers: { 'idempotency-key': idempotencyKey },
  });
}

export function acceptInvitation(token: string): Promise<{ organization: Organization }> {
  return apiRequest('/api/organizations/invitations/accept', { method: 'POST', body: { token } });
}
