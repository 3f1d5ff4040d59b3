import { hash, randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { PubSub } from '../../stores/index.js';
import { recordAuditEvent } from '../accounts/audit.js';
import { users } from '../accounts/tables.js';
import { ensureWallet, type Wallet } from '../billing/index.js';
import { revokeOrganizationKeys } from '../gateway/keys-service.js';
import {
  type OrganizationRole,
  organizationInvitations,
  organizationMembers,
  organizations,
} from './tables.js';

/** Invitations work for 7 days. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Published whenever a membership changes, so every process drops what it cached about it. */
export const MEMBERSHIP_CHANNEL = 'organizations:membership';

/** The key under which a membership is cached and announced on MEMBERSHIP_CHANNEL. */
export function membershipKey(organizationId: string, userId: string): string {
  return `${organizationId}:${userId}`;
}

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

export interface MemberLimits {
  /** Credits the member may spend from the organisation's wallet per local month; null = no limit of their own. */
  monthlyCreditLimit: number | null;
  /** Credits per local day; null = no limit of their own. */
  dailyCreditLimit: number | null;
}

export interface Membership extends MemberLimits {
  organizationId: string;
  userId: string;
  role: OrganizationRole;
}

export interface MemberView extends Membership {
  email: string;
  name: string;
  joinedAt: Date;
}

export type InvitationStatus = 'pending' | 'accepted' | 'expired' | 'revoked';

export interface InvitationView {
  id: string;
  email: string;
  role: OrganizationRole;
  status: InvitationStatus;
  expiresAt: Date;
  acceptedAt: Date | null;
  createdAt: Date;
}

export function hashInvitationToken(token: string): string {
  return hash('sha256', token, 'hex');
}

function notFound(): AppError {
  // The same answer for an unknown organisation and for one the caller does not belong to: ids cannot be probed.
  return new AppError('not_found', 'No such organisation.');
}

/** The organisation's wallet (created empty the first time). */
export function organizationWallet(db: Database, organizationId: string): Promise<Wallet> {
  return ensureWallet(db, { ownerType: 'organization', ownerId: organizationId });
}

/** Creates an organisation with its creator as its first owner, and its wallet. */
export async function createOrganization(
  db: Database,
  options: { userId: string; name: string },
): Promise<{ organization: Organization; walletId: string }> {
  const organization = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(organizations)
      .values({ name: options.name, createdBy: options.userId })
      .returning();
    await tx
      .insert(organizationMembers)
      .values({ organizationId: row!.id, userId: options.userId, role: 'owner' });
    return row!;
  });
  const wallet = await organizationWallet(db, organization.id);
  return {
    organization: { id: organization.id, name: organization.name, createdAt: organization.createdAt },
    walletId: wallet.id,
  };
}

/** The organisations a person belongs to, with their role and the number of members. */
export async function listOrganizationsOf(
  db: Database,
  userId: string,
): Promise<Array<Organization & { role: OrganizationRole; members: number }>> {
  const mine = await db
    .select({
      id: organizations.id,
      name: organizations.name,
      createdAt: organizations.createdAt,
      role: organizationMembers.role,
    })
    .from(organizationMembers)
    .innerJoin(organizations, eq(organizations.id, organizationMembers.organizationId))
    .where(eq(organizationMembers.userId, userId))
    .orderBy(asc(organizations.name), asc(organizations.id));
  if (mine.length === 0) return [];
  const counts = await Promise.all(
    mine.map((organization) =>
      db
        .select({ members: count() })
        .from(organizationMembers)
        .where(eq(organizationMembers.organizationId, organization.id)),
    ),
  );
  return mine.map((organization, index) => ({ ...organization, members: counts[index]?.[0]?.members ?? 0 }));
}

export async function getMembership(
  db: Database,
  options: { organizationId: string; userId: string },
): Promise<Membership | undefined> {
  const [row] = await db.select().from(organizationMembers).where(memberOf(options)).limit(1);
  return row ? toMembership(row) : undefined;
}

function toMembership(row: typeof organizationMembers.$inferSelect): Membership {
  return {
    organizationId: row.organizationId,
    userId: row.userId,
    role: row.role,
    monthlyCreditLimit: row.monthlyCreditLimit,
    dailyCreditLimit: row.dailyCreditLimit,
  };
}

/**
 * The caller's membership, or 404 when they are not a member (exactly like an unknown id) and 403 when the action
 * needs an owner and they are a member.
 */
export async function requireMembership(
  db: Database,
  options: { organizationId: string; userId: string; role?: 'owner' },
): Promise<Membership> {
  const membership = await getMembership(db, options);
  if (!membership) throw notFound();
  if (options.role === 'owner' && membership.role !== 'owner') {
    throw new AppError('forbidden', 'Only an owner of this organisation may do this.');
  }
  return membership;
}

export async function getOrganization(db: Database, organizationId: string): Promise<Organization> {
  const [row] = await db.select().from(organizations).where(eq(organizations.id, organizationId)).limit(1);
  if (!row) throw notFound();
  return { id: row.id, name: row.name, createdAt: row.createdAt };
}

/** Renames the organisation; `actorUserId` must still be an owner when the change is made. */
export async function renameOrganization(
  db: Database,
  options: { organizationId: string; name: string; actorUserId: string },
): Promise<Organization> {
  return db.transaction(async (tx) => {
    await lockOrganization(tx, options.organizationId, options.actorUserId);
    const [row] = await tx
      .update(organizations)
      .set({ name: options.name, updatedAt: new Date() })
      .where(eq(organizations.id, options.organizationId))
      .returning();
    return { id: row!.id, name: row!.name, createdAt: row!.createdAt };
  });
}

export async function listMembers(db: Database, organizationId: string): Promise<MemberView[]> {
  // Names and addresses are read with the membership (one query) rather than one account lookup per member.
  const rows = await db
    .select({ member: organizationMembers, email: users.email, name: users.name })
    .from(organizationMembers)
    .innerJoin(users, eq(users.id, organizationMembers.userId))
    .where(eq(organizationMembers.organizationId, organizationId))
    .orderBy(asc(organizationMembers.createdAt), asc(organizationMembers.userId));
  return rows.map((row) => ({
    ...toMembership(row.member),
    email: row.email,
    name: row.name,
    joinedAt: row.member.createdAt,
  }));
}

/**
 * Locks the organisation row: membership changes of one organisation run one at a time (the last-owner rule).
 * With `ownerId`, also checks under the lock that this person is still an owner (another owner may have demoted
 * them since the route checked).
 */
async function lockOrganization(tx: Transaction, organizationId: string, ownerId?: string): Promise<void> {
  const [row] = await tx
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .for('update');
  if (!row) throw notFound();
  if (ownerId === undefined) return;
  const [actor] = await tx
    .select({ role: organizationMembers.role })
    .from(organizationMembers)
    .where(memberOf({ organizationId, userId: ownerId }));
  if (!actor) throw notFound();
  if (actor.role !== 'owner')
    throw new AppError('forbidden', 'Only an owner of this organisation may do this.');
}

/** The organisation's owners, `exceptUserId` left out when given. */
async function countOwners(tx: Transaction, organizationId: string, exceptUserId?: string): Promise<number> {
  const [row] = await tx
    .select({ owners: count() })
    .from(organizationMembers)
    .where(
      and(
        eq(organizationMembers.organizationId, organizationId),
        eq(organizationMembers.role, 'owner'),
        exceptUserId === undefined ? undefined : ne(organizationMembers.userId, exceptUserId),
      ),
    );
  return row?.owners ?? 0;
}

/** The row of one member of one organisation. */
function memberOf(options: { organizationId: string; userId: string }) {
  return and(
    eq(organizationMembers.organizationId, options.organizationId),
    eq(organizationMembers.userId, options.userId),
  );
}

/** Locks the organisation (checking the acting owner, when given), then reads the member; 404 when not one. */
async function lockMember(
  tx: Transaction,
  options: { organizationId: string; userId: string; actorUserId?: string | undefined },
) {
  await lockOrganization(tx, options.organizationId, options.actorUserId);
  const [current] = await tx.select().from(organizationMembers).where(memberOf(options));
  if (!current) throw new AppError('not_found', 'No such member.');
  return current;
}

/** Refuses to demote or remove the last owner of an organisation. */
async function keepAnOwner(tx: Transaction, member: typeof organizationMembers.$inferSelect): Promise<void> {
  if (member.role === 'owner' && (await countOwners(tx, member.organizationId, member.userId)) === 0) {
    throw lastOwner();
  }
}

function lastOwner(): AppError {
  return new AppError(
    'conflict',
    'An organisation keeps at least one owner: make another member an owner first.',
  );
}

/**
 * Makes a member an owner or an owner a member; refuses to demote the last owner. `actorUserId`, when given, must
 * still be an owner when the change is made.
 */
export async function changeMemberRole(
  db: Database,
  options: { organizationId: string; userId: string; role: OrganizationRole; actorUserId?: string },
): Promise<Membership> {
  return db.transaction(async (tx) => {
    const current = await lockMember(tx, options);
    if (current.role === options.role) return toMembership(current);
    await keepAnOwner(tx, current);
    const [row] = await tx
      .update(organizationMembers)
      .set({ role: options.role, updatedAt: new Date() })
      .where(memberOf(options))
      .returning();
    return toMembership(row!);
  });
}

/**
 * Sets (or with null, clears) a member's own spending limits on the organisation's wallet; `actorUserId` must still
 * be an owner when the change is made.
 */
export async function setMemberLimits(
  db: Database,
  options: { organizationId: string; userId: string; actorUserId: string } & MemberLimits,
): Promise<Membership> {
  return db.transaction(async (tx) => {
    await lockMember(tx, options);
    const [row] = await tx
      .update(organizationMembers)
      .set({
        monthlyCreditLimit: options.monthlyCreditLimit,
        dailyCreditLimit: options.dailyCreditLimit,
        updatedAt: new Date(),
      })
      .where(memberOf(options))
      .returning();
    return toMembership(row!);
  });
}

/**
 * Removes a member (or lets one leave) and revokes the keys they hold for the organisation, so its wallet stops
 * paying for them at once. Refuses to remove the last owner. `actorUserId`, when given, must still be an owner.
 */
export async function removeMember(
  db: Database,
  pubSub: PubSub,
  options: { organizationId: string; userId: string; actorUserId?: string },
): Promise<{ revokedKeys: number }> {
  await db.transaction(async (tx) => {
    const current = await lockMember(tx, options);
    await keepAnOwner(tx, current);
    await tx.delete(organizationMembers).where(memberOf(options));
  });
  // After the commit: a key verified meanwhile is still refused by the payer lookup, which finds no membership.
  const revokedKeys = await revokeOrganizationKeys(db, pubSub, {
    organizationId: options.organizationId,
    userId: options.userId,
  });
  return { revokedKeys };
}

/** Why a person is taken out of every organisation at once; recorded with any owner this makes. */
export type MembershipsEndReason = 'account_taken_over' | 'account_erased';

/**
 * Takes a person out of every organisation and tells every process. For an account that changes hands (the real
 * owner of its address took it over: what its previous holder joined or created is not theirs) and for an erased
 * one. Where they were the last owner, ownership passes to the longest-standing member whose account is active, so
 * the organisation stays administrable (invitations, roles, limits); with no such member it is left without an
 * owner, its wallet and ledger untouched. Each organisation is changed under its row lock, like every other
 * membership change, so concurrent removals neither leave it ownerless nor promote twice. Keys are the caller's: both
 * callers revoke all the person's keys first (`revokeUserKeys`, organisation keys included), and a key left to a
 * non-member is refused by the payer anyway. Returns how many memberships ended.
 */
export async function removeAllMemberships(
  db: Database,
  pubSub: PubSub,
  options: { userId: string; reason: MembershipsEndReason },
): Promise<number> {
  const memberships = await db
    .select({ organizationId: organizationMembers.organizationId })
    .from(organizationMembers)
    .where(eq(organizationMembers.userId, options.userId))
    .orderBy(asc(organizationMembers.organizationId));
  let removed = 0;
  // One transaction per organisation: each holds one organisation lock at a time, so none can deadlock another.
  for (const { organizationId } of memberships) {
    const outcome = await db.transaction((tx) =>
      removeAndHandOver(tx, { organizationId, userId: options.userId, reason: options.reason }),
    );
    if (!outcome.removed) continue; // a concurrent removal got there first
    removed += 1;
    await pubSub.publish(MEMBERSHIP_CHANNEL, membershipKey(organizationId, options.userId));
    if (outcome.newOwnerId) {
      await pubSub.publish(MEMBERSHIP_CHANNEL, membershipKey(organizationId, outcome.newOwnerId));
    }
  }
  return removed;
}

/**
 * Invitations sent to an erased person's addresses: the address gives way to `replacement` (the organisation keeps
 * the record that someone was invited, accepted or not, and by whom), and one still pending is withdrawn: the person
 * it was for is gone, and whoever signs up with the address later is someone else. Erasure calls it in its transaction. Returns how many changed.
 */
export async function forgetInvitee(
  db: Database,
  options: { addresses: readonly string[]; replacement: string },
): Promise<number> {
  if (options.addresses.length === 0) return 0;
  const rows = await db
    .update(organizationInvitations)
    .set({
      email: options.replacement,
      revokedAt: sql`coalesce(${organizationInvitations.revokedAt}, case when ${organizationInvitations.acceptedAt} is null then now() end)`,
    })
    .where(inArray(organizationInvitations.email, [...new Set(options.addresses)]))
    .returning({ id: organizationInvitations.id });
  return rows.length;
}

/**
 * Erased accounts (status 'deleted') that are still members somewhere: erasure ends memberships after its own commit,
 * so a process that stopped in between left them; the erasure sweep finishes them.
 */
export async function erasedMembers(db: Database): Promise<string[]> {
  const rows = await db
    .selectDistinct({ userId: organizationMembers.userId })
    .from(organizationMembers)
    .innerJoin(users, eq(users.id, organizationMembers.userId))
    .where(eq(users.status, 'deleted'));
  return rows.map((row) => row.userId);
}

async function removeAndHandOver(
  tx: Transaction,
  options: { organizationId: string; userId: string; reason: MembershipsEndReason },
): Promise<{ removed: boolean; newOwnerId?: string }> {
  const [organization] = await tx
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.id, options.organizationId))
    .for('update');
  if (!organization) return { removed: false };
  const [gone] = await tx
    .delete(organizationMembers)
    .where(memberOf(options))
    .returning({ role: organizationMembers.role });
  if (!gone) return { removed: false };
  if (gone.role !== 'owner' || (await countOwners(tx, options.organizationId, options.userId)) > 0) {
    return { removed: true };
  }
  // A disabled account is left out: an admin cut it off, and handing it the wallet is not theirs to decide.
  const [successor] = await tx
    .select({ userId: organizationMembers.userId })
    .from(organizationMembers)
    .innerJoin(users, eq(users.id, organizationMembers.userId))
    .where(and(eq(organizationMembers.organizationId, options.organizationId), eq(users.status, 'active')))
    .orderBy(asc(organizationMembers.createdAt), asc(organizationMembers.userId))
    .limit(1);
  if (!successor) return { removed: true };
  await tx
    .update(organizationMembers)
    .set({ role: 'owner', updatedAt: new Date() })
    .where(memberOf({ organizationId: options.organizationId, userId: successor.userId }));
  await recordAuditEvent(tx, {
    type: 'organization.owner_promoted',
    userId: successor.userId,
    details: {
      organizationId: options.organizationId,
      previousOwnerId: options.userId,
      reason: options.reason,
    },
  });
  return { removed: true, newOwnerId: successor.userId };
}

function invitationStatus(row: typeof organizationInvitations.$inferSelect, now: Date): InvitationStatus {
  if (row.acceptedAt) return 'accepted';
  if (row.revokedAt) return 'revoked';
  return row.expiresAt <= now ? 'expired' : 'pending';
}

function toInvitationView(
  row: typeof organizationInvitations.$inferSelect,
  now = new Date(),
): InvitationView {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    status: invitationStatus(row, now),
    expiresAt: row.expiresAt,
    acceptedAt: row.acceptedAt,
    createdAt: row.createdAt,
  };
}

/**
 * Creates an invitation for an address and returns its token (only its hash is kept). A pending invitation to the
 * same address is withdrawn, so the newest email is the one that works. Refuses an address that already belongs
 * to a member. Runs under the organisation's row lock, where `invitedBy` must still be an owner.
 */
export async function createInvitation(
  db: Database,
  options: {
    organizationId: string;
    email: string;
    role: OrganizationRole;
    invitedBy: string;
    now?: Date;
  },
): Promise<{ invitation: InvitationView; token: string }> {
  const email = options.email.trim().toLowerCase();
  const now = options.now ?? new Date();
  const token = randomBytes(32).toString('base64url');
  const row = await db.transaction(async (tx) => {
    await lockOrganization(tx, options.organizationId, options.invitedBy);
    const [existing] = await tx
      .select({ userId: organizationMembers.userId })
      .from(organizationMembers)
      .innerJoin(users, eq(users.id, organizationMembers.userId))
      .where(and(eq(organizationMembers.organizationId, options.organizationId), eq(users.email, email)))
      .limit(1);
    if (existing) throw new AppError('conflict', 'This address already belongs to a member.');
    await tx
      .update(organizationInvitations)
      .set({ revokedAt: now })
      .where(
        and(
          eq(organizationInvitations.organizationId, options.organizationId),
          eq(organizationInvitations.email, email),
          isPending(),
        ),
      );
    const [created] = await tx
      .insert(organizationInvitations)
      .values({
        organizationId: options.organizationId,
        email,
        role: options.role,
        tokenHash: hashInvitationToken(token),
        invitedBy: options.invitedBy,
        expiresAt: new Date(now.getTime() + INVITATION_TTL_MS),
        createdAt: now,
      })
      .returning();
    return created!;
  });
  return { invitation: toInvitationView(row, now), token };
}

function isPending() {
  return and(isNull(organizationInvitations.acceptedAt), isNull(organizationInvitations.revokedAt));
}

export async function listInvitations(db: Database, organizationId: string): Promise<InvitationView[]> {
  const rows = await db
    .select()
    .from(organizationInvitations)
    .where(eq(organizationInvitations.organizationId, organizationId))
    .orderBy(desc(organizationInvitations.createdAt))
    .limit(100);
  const now = new Date();
  return rows.map((row) => toInvitationView(row, now));
}

/**
 * Withdraws an invitation; its link stops working. Under the organisation's row lock, where `actorUserId` must still
 * be an owner. Only one not yet accepted is withdrawn, in the same statement that checks it (an acceptance committed
 * meanwhile keeps it accepted): 409 for an accepted one. Withdrawing a withdrawn one changes nothing and answers it.
 */
export async function revokeInvitation(
  db: Database,
  options: { organizationId: string; invitationId: string; actorUserId: string },
): Promise<InvitationView> {
  return db.transaction(async (tx) => {
    await lockOrganization(tx, options.organizationId, options.actorUserId);
    const invitation = and(
      eq(organizationInvitations.id, options.invitationId),
      eq(organizationInvitations.organizationId, options.organizationId),
    );
    const [revoked] = await tx
      .update(organizationInvitations)
      .set({ revokedAt: new Date() })
      .where(and(invitation, isPending()))
      .returning();
    if (revoked) return toInvitationView(revoked);
    const [row] = await tx.select().from(organizationInvitations).where(invitation);
    if (!row) throw new AppError('not_found', 'No such invitation.');
    if (row.acceptedAt) {
      throw new AppError(
        'conflict',
        'This invitation has already been accepted: remove the member instead if they should not be in.',
      );
    }
    return toInvitationView(row);
  });
}

/**
 * Accepts an invitation for the signed-in person: the token must be unused, unexpired and not withdrawn, the person's
 * account active and its verified address the invited one, and the organisation must still have an owner (one left
 * without any, see `removeAllMemberships`, admits no one: 409). Runs under the organisation's row lock, like every
 * membership change, then the invitation's (so a token works exactly once) and a share lock on the account (so an
 * erasure waits for the membership and then ends it, or goes first and the account is refused).
 */
export async function acceptInvitation(
  db: Database,
  options: { token: string; userId: string; now?: Date },
): Promise<{ organization: Organization; membership: Membership }> {
  const now = options.now ?? new Date();
  const invalid = () =>
    new AppError('token_invalid', 'This invitation is unknown, already used, withdrawn or expired.');
  const tokenHash = hashInvitationToken(options.token);
  return db.transaction(async (tx) => {
    // The organisation is known only from the invitation, read once unlocked to find which row to lock first.
    const [found] = await tx
      .select({ organizationId: organizationInvitations.organizationId })
      .from(organizationInvitations)
      .where(eq(organizationInvitations.tokenHash, tokenHash));
    if (!found) throw invalid();
    const [organization] = await tx
      .select()
      .from(organizations)
      .where(eq(organizations.id, found.organizationId))
      .for('update');
    const [invitation] = await tx
      .select()
      .from(organizationInvitations)
      .where(eq(organizationInvitations.tokenHash, tokenHash))
      .for('update');
    if (!organization || !invitation || invitationStatus(invitation, now) !== 'pending') throw invalid();
    const [account] = await tx
      .select({ email: users.email, emailVerifiedAt: users.emailVerifiedAt, status: users.status })
      .from(users)
      .where(eq(users.id, options.userId))
      .for('share');
    if (account?.status !== 'active') throw new AppError('unauthenticated', 'Sign in first.');
    if (!account.emailVerifiedAt) {
      throw new AppError('forbidden', 'Verify your email address first, then open the invitation again.');
    }
    if (account.email !== invitation.email) {
      throw new AppError('forbidden', 'This invitation was sent to another email address.');
    }
    if ((await countOwners(tx, organization.id)) === 0) {
      throw new AppError(
        'conflict',
        'This organisation no longer has an owner, so it cannot admit anyone: the invitation cannot be used.',
      );
    }
    const [membership] = await tx
      .insert(organizationMembers)
      .values({ organizationId: organization.id, userId: options.userId, role: invitation.role })
      .onConflictDoNothing()
      .returning();
    if (!membership) throw new AppError('conflict', 'You are already a member of this organisation.');
    await tx
      .update(organizationInvitations)
      .set({ acceptedAt: now, acceptedBy: options.userId })
      .where(eq(organizationInvitations.id, invitation.id));
    return {
      organization: { id: organization.id, name: organization.name, createdAt: organization.createdAt },
      membership: toMembership(membership),
    };
  });
}
