import { and, eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { createSignedInAccount, type SignedInClient } from '../accounts/testing.js';
import { acceptInvitation, createInvitation, createOrganization } from './service.js';
import { organizationInvitations, organizationMembers, organizations } from './tables.js';
import { holdLock, rolesIn } from './testing.js';

/** An organisation with two owners, a member and a pending invitation. */
interface Setup {
  organizationId: string;
  /** The owner who acts, and the one who demotes them meanwhile. */
  actor: SignedInClient;
  other: SignedInClient;
  member: SignedInClient;
  pendingInvitationId: string;
  invitee: SignedInClient;
}

/** What an owner may do, the answer when it is done, and what it changes (the same before and after a refusal). */
interface OwnerAction {
  name: string;
  request(setup: Setup): InjectOptions;
  done: number;
  effect(setup: Setup): Promise<unknown>;
}

for (const pair of backendPairs()) {
  describe(`owner actions while the owner or the invitation changes on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness?.close());

    const db = () => harness.app.db;
    const as = (client: SignedInClient, options: InjectOptions) =>
      harness.app.inject({ ...options, headers: { ...client.headers, ...options.headers } });

    async function join(
      organizationId: string,
      by: SignedInClient,
      client: SignedInClient,
      role: 'owner' | 'member',
    ) {
      const { token } = await createInvitation(db(), {
        organizationId,
        email: client.email,
        role,
        invitedBy: by.userId,
      });
      await acceptInvitation(db(), { token, userId: client.userId });
    }

    async function setUp(): Promise<Setup> {
      const [actor, other, member, invitee] = await Promise.all(
        Array.from({ length: 4 }, () => createSignedInAccount(harness.app)),
      );
      const { organization } = await createOrganization(db(), { userId: actor!.userId, name: 'Acme' });
      await join(organization.id, actor!, other!, 'owner');
      await join(organization.id, actor!, member!, 'member');
      const { invitation } = await createInvitation(db(), {
        organizationId: organization.id,
        email: invitee!.email,
        role: 'member',
        invitedBy: actor!.userId,
      });
      return {
        organizationId: organization.id,
        actor: actor!,
        other: other!,
        member: member!,
        pendingInvitationId: invitation.id,
        invitee: invitee!,
      };
    }

    const invitedAddress = 'raced-invitation@example.test';
    const actions: OwnerAction[] = [
      {
        name: 'invite',
        request: ({ organizationId }) => ({
          method: 'POST',
          url: `/api/organizations/${organizationId}/invitations`,
          payload: { email: invitedAddress, role: 'owner' },
        }),
        done: 201,
        effect: ({ organizationId }) =>
          db()
            .select({ email: organizationInvitations.email })
            .from(organizationInvitations)
            .where(
              and(
                eq(organizationInvitations.organizationId, organizationId),
                eq(organizationInvitations.email, invitedAddress),
              ),
            ),
      },
      {
        name: 'withdraw an invitation',
        request: ({ organizationId, pendingInvitationId }) => ({
          method: 'DELETE',
          url: `/api/organizations/${organizationId}/invitations/${pendingInvitationId}`,
        }),
        done: 200,
        effect: async ({ pendingInvitationId }) => {
          const [row] = await db()
            .select({ revokedAt: organizationInvitations.revokedAt })
            .from(organizationInvitations)
            .where(eq(organizationInvitations.id, pendingInvitationId));
          return row!.revokedAt !== null;
        },
      },
      {
        name: 'set a member’s limits',
        request: ({ organizationId, member }) => ({
          method: 'PUT',
          url: `/api/organizations/${organizationId}/members/${member.userId}/limits`,
          payload: { monthlyCreditLimit: 500, dailyCreditLimit: 50 },
        }),
        done: 200,
        effect: async ({ organizationId, member }) => {
          const [row] = await db()
            .select({
              monthly: organizationMembers.monthlyCreditLimit,
              daily: organizationMembers.dailyCreditLimit,
            })
            .from(organizationMembers)
            .where(
              and(
                eq(organizationMembers.organizationId, organizationId),
                eq(organizationMembers.userId, member.userId),
              ),
            );
          return row;
        },
      },
      {
        name: 'rename the organisation',
        request: ({ organizationId }) => ({
          method: 'PATCH',
          url: `/api/organizations/${organizationId}`,
          payload: { name: 'Renamed by a former owner' },
        }),
        done: 200,
        effect: async ({ organizationId }) => {
          const [row] = await db()
            .select({ name: organizations.name })
            .from(organizations)
            .where(eq(organizations.id, organizationId));
          return row!.name;
        },
      },
    ];

    it.each(actions)('lets no owner demoted as they act $name', async (action) => {
      const setup = await setUp();
      const { organizationId, actor, other } = setup;
      const before = await action.effect(setup);
      const demote = () =>
        as(other, {
          method: 'PATCH',
          url: `/api/organizations/${organizationId}/members/${actor.userId}`,
          payload: { role: 'member' },
        });

      let demoted: Awaited<ReturnType<typeof demote>>;
      let answer: Awaited<ReturnType<typeof demote>>;
      if (pair.database.name === 'postgres') {
        // The demotion waits for the organisation's lock, then the action, which has passed the route's owner check:
        // the demotion is committed first, and the action must see it.
        const lock = await holdLock(db(), (tx) =>
          tx
            .select({ id: organizations.id })
            .from(organizations)
            .where(eq(organizations.id, organizationId))
            .for('update'),
        );
        const demoting = demote();
        await lock.waiting(1);
        const acting = as(actor, action.request(setup));
        await lock.waiting(2, acting);
        await lock.release();
        [demoted, answer] = await Promise.all([demoting, acting]);
        expect(answer.statusCode).toBe(403);
      } else {
        // PGlite runs one transaction at a time: either order is serial, and either must end consistently.
        [demoted, answer] = await Promise.all([demote(), as(actor, action.request(setup))]);
      }
      expect(demoted.statusCode).toBe(200);
      expect(await rolesIn(db(), organizationId)).toMatchObject({ [actor.userId]: 'member' });
      if (answer.statusCode === action.done) return;
      expect(answer.statusCode).toBe(403);
      expect(answer.json().error).toEqual({
        code: 'forbidden',
        message: 'Only an owner of this organisation may do this.',
      });
      expect(await action.effect(setup)).toEqual(before);
    });

    async function invitationRow(id: string) {
      const [row] = await db()
        .select()
        .from(organizationInvitations)
        .where(eq(organizationInvitations.id, id));
      return row!;
    }

    const withdraw = ({ organizationId, actor, pendingInvitationId }: Setup) =>
      as(actor, {
        method: 'DELETE',
        url: `/api/organizations/${organizationId}/invitations/${pendingInvitationId}`,
      });

    const alreadyAccepted = {
      code: 'conflict',
      message:
        'This invitation has already been accepted: remove the member instead if they should not be in.',
    };

    it('refuses to withdraw an accepted invitation (409), which stays accepted', async () => {
      const setup = await setUp();
      const { token } = await createInvitation(db(), {
        organizationId: setup.organizationId,
        email: setup.invitee.email,
        role: 'member',
        invitedBy: setup.actor.userId,
      });
      const accepted = await acceptInvitation(db(), { token, userId: setup.invitee.userId });
      const [invitation] = await db()
        .select({ id: organizationInvitations.id })
        .from(organizationInvitations)
        .where(eq(organizationInvitations.acceptedBy, accepted.membership.userId));

      const answer = await withdraw({ ...setup, pendingInvitationId: invitation!.id });
      expect(answer.statusCode).toBe(409);
      expect(answer.json().error).toEqual(alreadyAccepted);
      expect(await invitationRow(invitation!.id)).toMatchObject({
        revokedAt: null,
        acceptedAt: expect.any(Date),
      });
      expect(await rolesIn(db(), setup.organizationId)).toMatchObject({ [setup.invitee.userId]: 'member' });

      // Withdrawing a withdrawn one changes nothing: still withdrawn, at the same time.
      const first = await withdraw(setup);
      expect(first.json().invitation.status).toBe('revoked');
      const revokedAt = (await invitationRow(setup.pendingInvitationId)).revokedAt;
      const again = await withdraw(setup);
      expect(again.statusCode).toBe(200);
      expect(again.json().invitation.status).toBe('revoked');
      expect((await invitationRow(setup.pendingInvitationId)).revokedAt).toEqual(revokedAt);
    });

    it.runIf(pair.database.name === 'postgres')(
      'never marks withdrawn an invitation accepted while the withdrawal waited for it (409)',
      async () => {
        const setup = await setUp();
        const id = setup.pendingInvitationId;
        // Holds the invitation as its acceptance does, and commits the acceptance once the withdrawal waits for it.
        const lock = await holdLock(db(), (tx) =>
          tx
            .select({ id: organizationInvitations.id })
            .from(organizationInvitations)
            .where(eq(organizationInvitations.id, id))
            .for('update'),
        );
        const withdrawing = withdraw(setup);
        await lock.waiting(1, withdrawing);
        await lock.release((tx) =>
          tx
            .update(organizationInvitations)
            .set({ acceptedAt: new Date(), acceptedBy: setup.invitee.userId })
            .where(eq(organizationInvitations.id, id)),
        );
        const answer = await withdrawing;
        expect(answer.statusCode).toBe(409);
        expect(answer.json().error).toEqual(alreadyAccepted);
        expect(await invitationRow(id)).toMatchObject({ revokedAt: null, acceptedAt: expect.any(Date) });
      },
    );
  });
}
