import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicUrl } from '../../config/env.js';
import { errorResponses } from '../../http/schemas.js';
import { authenticate } from '../../plugins/authenticate.js';
import { userLimit } from '../accounts/rate-limits.js';
import { getAccount } from '../accounts/service.js';
import {
  displayCredits,
  ledgerEntryKinds,
  listLedgerEntries,
  MAX_CREDITS_PER_ENTRY,
  transferCredits,
} from '../billing/index.js';
import type { OrganizationPayer } from './payer.js';
import {
  acceptInvitation,
  changeMemberRole,
  createInvitation,
  createOrganization,
  getOrganization,
  listInvitations,
  listMembers,
  listOrganizationsOf,
  type Membership,
  organizationWallet,
  removeMember,
  renameOrganization,
  requireMembership,
  revokeInvitation,
  setMemberLimits,
} from './service.js';
import { organizationRoles } from './tables.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's membership, set by the `organizationAccess` preHandler on /api/organizations/:organizationId/*. */
    membership: Membership;
  }
}

/** Names and other free text: trimmed, no control characters (they reach emails); markup is kept as plain text. */
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters');

const credits = z.number().int();
const role = z.enum(organizationRoles);
const creditLimit = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .nullable()
  .describe('Credits; null means no limit of the member’s own.');

const organizationSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  role: role.describe('Your role in it.'),
  members: z.number().int(),
  createdAt: z.iso.datetime(),
});

const memberSchema = z.object({
  userId: z.uuid(),
  email: z.string(),
  name: z.string(),
  role,
  monthlyCreditLimit: creditLimit.describe('Shown to owners and to the member themself; null otherwise.'),
  dailyCreditLimit: creditLimit,
  joinedAt: z.iso.datetime(),
});

const membershipSchema = z.object({
  organizationId: z.uuid(),
  userId: z.uuid(),
  role,
  monthlyCreditLimit: creditLimit,
  dailyCreditLimit: creditLimit,
});

const invitationSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role,
  status: z.enum(['pending', 'accepted', 'expired', 'revoked']),
  expiresAt: z.iso.datetime(),
  acceptedAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});

const entrySchema = z.object({
  id: z.string().describe('Entry id (decimal string).'),
  kind: z.enum(ledgerEntryKinds),
  amount: credits.describe('Signed change to the organisation’s balance.'),
  balanceAfter: credits,
  createdAt: z.iso.datetime(),
  memberUserId: z
    .string()
    .nullable()
    .describe('The member who spent (usage) or moved the credits (transfer).'),
  requestId: z.string().nullable(),
  model: z.string().nullable(),
  keyId: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.union([z.number(), z.string()])).nullable(),
});

const organizationParams = z.object({ organizationId: z.uuid() });
const memberParams = z.object({ organizationId: z.uuid(), userId: z.uuid() });

function toInvitationJson(invitation: Awaited<ReturnType<typeof listInvitations>>[number]) {
  return {
    ...invitation,
    expiresAt: invitation.expiresAt.toISOString(),
    acceptedAt: invitation.acceptedAt?.toISOString() ?? null,
    createdAt: invitation.createdAt.toISOString(),
  };
}

/**
 * Who may call what. Every route is for signed-in people (sessions, not virtual keys); routes under an
 * organisation id also need a membership: `member` (any role) or `owner`. A non-member gets 404, exactly as for an
 * unknown id, and a member calling an owner route gets 403. Platform roles (user, support, admin) give no access
 * to an organisation they are not in.
 */
export function organizationAccess(role: 'member' | 'owner') {
  return async function organizationAccessHandler(request: FastifyRequest, _reply: FastifyReply) {
    const { organizationId } = request.params as { organizationId: string };
    request.membership = await requireMembership(request.server.db, {
      organizationId,
      userId: request.auth.userId,
      ...(role === 'owner' ? { role: 'owner' as const } : {}),
    });
  };
}

export async function organizationRoutes(app: FastifyInstance, options: { payer: OrganizationPayer }) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['organizations'];
  const signedIn = authenticate();
  const member = organizationAccess('member');
  const owner = organizationAccess('owner');
  const reads = userLimit(app, 'reads');
  const writes = userLimit(app, 'writes');
  // Invitations send email to any address: a budget of their own, apart from other writes.
  const invites = userLimit(app, 'writes', 'organization-invitations');
  const transfers = userLimit(app, 'writes', 'organization-transfers');
  const { payer } = options;
  app.decorateRequest('membership', null as unknown as Membership);

  routes.post(
    '/api/organizations',
    {
      schema: {
        tags,
        summary:
          'Create an organisation (any signed-in person); you become its first owner. Its wallet starts empty.',
        body: z.strictObject({ name: plainText(100) }),
        response: {
          201: z.object({ organization: organizationSchema, walletId: z.uuid() }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
      preHandler: [signedIn, writes],
    },
    async (request, reply) => {
      const created = await createOrganization(app.db, {
        userId: request.auth.userId,
        name: request.body.name,
      });
      return reply.code(201).send({
        organization: {
          ...created.organization,
          role: 'owner' as const,
          members: 1,
          createdAt: created.organization.createdAt.toISOString(),
        },
        walletId: created.walletId,
      });
    },
  );

  routes.get(
    '/api/organizations',
    {
      schema: {
        tags,
        summary: 'The organisations you belong to, with your role in each (any signed-in person).',
        response: {
          200: z.object({ organizations: z.array(organizationSchema) }),
          ...errorResponses(401, 403, 429),
        },
      },
      preHandler: [signedIn, reads],
    },
    async (request) => ({
      organizations: (await listOrganizationsOf(app.db, request.auth.userId)).map((organization) => ({
        ...organization,
        createdAt: organization.createdAt.toISOString(),
      })),
    }),
  );

  routes.post(
    '/api/organizations/invitations/accept',
    {
      schema: {
        tags,
        summary:
          'Accept an invitation (the signed-in person whose verified email address was invited). The token works once, within 7 days.',
        body: z.strictObject({ token: z.string().min(10).max(200) }),
        response: {
          200: z.object({ organization: organizationSchema, membership: membershipSchema }),
          ...errorResponses(400, 401, 403, 409, 429),
        },
      },
      preHandler: [signedIn, writes],
    },
    async (request) => {
      const accepted = await acceptInvitation(app.db, {
        token: request.body.token,
        userId: request.auth.userId,
      });
      await payer.membershipChanged(accepted.organization.id, request.auth.userId);
      const mine = (await listOrganizationsOf(app.db, request.auth.userId)).find(
        (organization) => organization.id === accepted.organization.id,
      );
      return {
        organization: {
          ...accepted.organization,
          role: accepted.membership.role,
          members: mine?.members ?? 1,
          createdAt: accepted.organization.createdAt.toISOString(),
        },
        membership: accepted.membership,
      };
    },
  );

  routes.get(
    '/api/organizations/:organizationId',
    {
      schema: {
        tags,
        summary: 'One organisation you belong to (members and owners).',
        params: organizationParams,
        response: {
          200: z.object({ organization: organizationSchema }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
      preHandler: [signedIn, reads, member],
    },
    async (request) => {
      const [organization, members] = await Promise.all([
        getOrganization(app.db, request.params.organizationId),
        listMembers(app.db, request.params.organizationId),
      ]);
      return {
        organization: {
          ...organization,
          role: request.membership.role,
          members: members.length,
          createdAt: organization.createdAt.toISOString(),
        },
      };
    },
  );

  routes.patch(
    '/api/organizations/:organizationId',
    {
      schema: {
        tags,
        summary: 'Rename the organisation (owners).',
        params: organizationParams,
        body: z.strictObject({ name: plainText(100) }),
        response: { 200: z.object({ name: z.string() }), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preHandler: [signedIn, writes, owner],
    },
    async (request) => {
      const renamed = await renameOrganization(app.db, {
        organizationId: request.params.organizationId,
        name: request.body.name,
        actorUserId: request.auth.userId,
      });
      return { name: renamed.name };
    },
  );

  routes.get(
    '/api/organizations/:organizationId/members',
    {
      schema: {
        tags,
        summary:
          'The members and their roles (members and owners); spending limits are shown to owners, and to each member for themself.',
        params: organizationParams,
        response: {
          200: z.object({ members: z.array(memberSchema) }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
      preHandler: [signedIn, reads, member],
    },
    async (request) => {
      const seesLimits = (userId: string) =>
        request.membership.role === 'owner' || userId === request.auth.userId;
      return {
        members: (await listMembers(app.db, request.params.organizationId)).map((row) => ({
          userId: row.userId,
          email: row.email,
          name: row.name,
          role: row.role,
          monthlyCreditLimit: seesLimits(row.userId) ? row.monthlyCreditLimit : null,
          dailyCreditLimit: seesLimits(row.userId) ? row.dailyCreditLimit : null,
          joinedAt: row.joinedAt.toISOString(),
        })),
      };
    },
  );

  routes.patch(
    '/api/organizations/:organizationId/members/:userId',
    {
      schema: {
        tags,
        summary:
          'Change a member’s role (owners). An organisation keeps at least one owner: demoting the last one is 409.',
        params: memberParams,
        body: z.strictObject({ role }),
        response: {
          200: z.object({ member: membershipSchema }),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      },
      preHandler: [signedIn, writes, owner],
    },
    async (request) => {
      const changed = await changeMemberRole(app.db, {
        ...request.params,
        role: request.body.role,
        actorUserId: request.auth.userId,
      });
      await payer.membershipChanged(request.params.organizationId, request.params.userId);
      return { member: changed };
    },
  );

  routes.put(
    '/api/organizations/:organizationId/members/:userId/limits',
    {
      schema: {
        tags,
        summary:
          'Set how many credits a member may spend from the organisation’s wallet per local day and month (owners); null removes a limit.',
        params: memberParams,
        body: z.strictObject({
          monthlyCreditLimit: creditLimit,
          dailyCreditLimit: creditLimit.default(null),
        }),
        response: { 200: z.object({ member: membershipSchema }), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preHandler: [signedIn, writes, owner],
    },
    async (request) => {
      const changed = await setMemberLimits(app.db, {
        ...request.params,
        actorUserId: request.auth.userId,
        monthlyCreditLimit: request.body.monthlyCreditLimit,
        dailyCreditLimit: request.body.dailyCreditLimit,
      });
      await payer.membershipChanged(request.params.organizationId, request.params.userId);
      return { member: changed };
    },
  );

  const removed = z.object({
    revokedKeys: z.number().int().describe('Organisation keys of the person revoked.'),
  });

  routes.delete(
    '/api/organizations/:organizationId/members/:userId',
    {
      schema: {
        tags,
        summary:
          'Remove a member (owners); their keys for this organisation stop working at once. The last owner cannot be removed (409).',
        params: memberParams,
        response: { 200: removed, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
      preHandler: [signedIn, writes, owner],
    },
    async (request) => {
      const result = await removeMember(app.db, app.stores.pubSub, {
        ...request.params,
        actorUserId: request.auth.userId,
      });
      await payer.membershipChanged(request.params.organizationId, request.params.userId);
      return result;
    },
  );

  routes.post(
    '/api/organizations/:organizationId/leave',
    {
      schema: {
        tags,
        summary:
          'Leave the organisation (members and owners); your keys for it stop working. The last owner cannot leave (409).',
        params: organizationParams,
        response: { 200: removed, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
      preHandler: [signedIn, writes, member],
    },
    async (request) => {
      const target = { organizationId: request.params.organizationId, userId: request.auth.userId };
      const result = await removeMember(app.db, app.stores.pubSub, target);
      await payer.membershipChanged(target.organizationId, target.userId);
      return result;
    },
  );

  routes.get(
    '/api/organizations/:organizationId/invitations',
    {
      schema: {
        tags,
        summary: 'Invitations sent, newest first (owners).',
        params: organizationParams,
        response: {
          200: z.object({ invitations: z.array(invitationSchema) }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
      preHandler: [signedIn, reads, owner],
    },
    async (request) => ({
      invitations: (await listInvitations(app.db, request.params.organizationId)).map(toInvitationJson),
    }),
  );

  routes.post(
    '/api/organizations/:organizationId/invitations',
    {
      schema: {
        tags,
        summary:
          'Invite someone by email (owners). The link works once, for 7 days, for the account with that verified address; a new invitation replaces a pending one.',
        params: organizationParams,
        body: z.strictObject({
          email: z.email().max(254),
          role: role.default('member'),
          locale: z.enum(['fr', 'en', 'ar']).optional().describe('Language of the email (default: yours).'),
        }),
        response: {
          201: z.object({ invitation: invitationSchema }),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      },
      preHandler: [signedIn, invites, owner],
    },
    async (request, reply) => {
      const organization = await getOrganization(app.db, request.params.organizationId);
      const inviter = await getAccount(app.db, request.auth.userId);
      const { invitation, token } = await createInvitation(app.db, {
        organizationId: organization.id,
        email: request.body.email,
        role: request.body.role,
        invitedBy: request.auth.userId,
      });
      await app.mailer.send({
        to: invitation.email,
        template: 'organization_invitation',
        locale: request.body.locale ?? inviter.locale,
        data: {
          name: '',
          inviter: inviter.name || inviter.email,
          organization: organization.name,
          link: `${publicUrl(app.env)}/organizations/accept?token=${encodeURIComponent(token)}`,
        },
      });
      return reply.code(201).send({ invitation: toInvitationJson(invitation) });
    },
  );

  routes.delete(
    '/api/organizations/:organizationId/invitations/:invitationId',
    {
      schema: {
        tags,
        summary:
          'Withdraw a pending invitation (owners); its link stops working. One already accepted is 409: remove the member instead.',
        params: z.object({ organizationId: z.uuid(), invitationId: z.uuid() }),
        response: {
          200: z.object({ invitation: invitationSchema }),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      },
      preHandler: [signedIn, writes, owner],
    },
    async (request) => ({
      invitation: toInvitationJson(
        await revokeInvitation(app.db, { ...request.params, actorUserId: request.auth.userId }),
      ),
    }),
  );

  routes.get(
    '/api/organizations/:organizationId/balance',
    {
      schema: {
        tags,
        summary: 'The organisation’s credit balance and what in-flight requests hold (members and owners).',
        params: organizationParams,
        response: {
          200: z.object({
            walletId: z.uuid(),
            balance: credits,
            held: credits,
            available: credits,
            display: z.array(
              z.object({ currency: z.string(), minor: z.number().int(), formatted: z.string() }),
            ),
          }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
      preHandler: [signedIn, reads, member],
    },
    async (request) => {
      // Usage served through credit leases is written in batches: write it out so the balance includes it.
      await app.billing.flushUsage();
      const wallet = await organizationWallet(app.db, request.params.organizationId);
      return {
        walletId: wallet.id,
        balance: wallet.balance,
        held: wallet.held,
        available: wallet.available,
        display: displayCredits(wallet.balance, app.billing.creditRates),
      };
    },
  );

  routes.get(
    '/api/organizations/:organizationId/ledger',
    {
      schema: {
        tags,
        summary:
          'The organisation’s ledger entries, newest first: owners see every entry, members only their own usage.',
        params: organizationParams,
        querystring: z.object({
          cursor: z
            .string()
            .regex(/^\d{1,18}$/)
            .optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({ entries: z.array(entrySchema), nextCursor: z.string().nullable() }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
      preHandler: [signedIn, reads, member],
    },
    async (request) => {
      await app.billing.flushUsage();
      const wallet = await organizationWallet(app.db, request.params.organizationId);
      const page = await listLedgerEntries(app.db, {
        walletId: wallet.id,
        cursor: request.query.cursor === undefined ? undefined : Number(request.query.cursor),
        limit: request.query.limit,
        memberUserId: request.membership.role === 'owner' ? undefined : request.auth.userId,
      });
      return {
        entries: page.entries.map((entry) => ({
          id: String(entry.id),
          kind: entry.kind,
          amount: entry.amount,
          balanceAfter: entry.balanceAfter,
          createdAt: entry.createdAt.toISOString(),
          memberUserId: entry.memberUserId,
          requestId: entry.requestId,
          model: entry.model,
          keyId: entry.keyId,
          reason: entry.reason,
          details: entry.details,
        })),
        nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
      };
    },
  );

  routes.post(
    '/api/organizations/:organizationId/transfers',
    {
      schema: {
        tags,
        summary:
          'Move credits from your personal wallet into the organisation’s (owners). One ledger movement, all or nothing; 402 when your available credits do not cover it. Send an Idempotency-Key header: a retry with the same key moves nothing more and answers the first result.',
        params: organizationParams,
        headers: z.object({
          'idempotency-key': z
            .string()
            .regex(/^[A-Za-z0-9_.:-]{8,100}$/, 'must be 8 to 100 letters, digits or _ . : -'),
        }),
        body: z.strictObject({
          amount: z.number().int().min(1).max(MAX_CREDITS_PER_ENTRY),
          reason: plainText(200).optional(),
        }),
        response: {
          200: z.object({
            entryId: z.string(),
            amount: credits,
            personalBalance: credits.describe('Your personal balance right after the movement.'),
            organizationBalance: credits.describe('The organisation’s balance right after the movement.'),
            duplicate: z
              .boolean()
              .describe('True when this Idempotency-Key had already moved these credits.'),
          }),
          ...errorResponses(400, 401, 402, 403, 404, 409, 422, 429),
        },
      },
      preHandler: [signedIn, transfers, owner],
    },
    async (request) => {
      const [personal, organization] = await Promise.all([
        app.billing.userWallet(request.auth.userId),
        organizationWallet(app.db, request.params.organizationId),
      ]);
      const moved = await transferCredits(app.db, {
        fromWalletId: personal.id,
        toWalletId: organization.id,
        amount: request.body.amount,
        // Keys are per person: two owners cannot collide on the same client key.
        idempotencyKey: `organization-transfer:${request.auth.userId}:${request.headers['idempotency-key']}`,
        actorUserId: request.auth.userId,
        ...(request.body.reason ? { reason: request.body.reason } : {}),
      });
      return {
        entryId: String(moved.entryId),
        amount: moved.amount,
        personalBalance: moved.fromBalance,
        organizationBalance: moved.toBalance,
        duplicate: moved.duplicate,
      };
    },
  );
}
