import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { eraseAccount } from '../accounts/privacy.js';
import { createSignedInAccount, type SignedInClient } from '../accounts/testing.js';
import { createInvitation, createOrganization } from './service.js';
import { type OrganizationRole, organizations } from './tables.js';
import { holdLock, rolesIn } from './testing.js';

for (const pair of backendPairs()) {
  describe(`accepting an invitation while the organisation or the account changes on ${pair.name}`, () => {
    let harness: TestApp;
    beforeAll(async () => {
      harness = await createTestApp(pair);
    });
    afterAll(() => harness?.close());

    const db = () => harness.app.db;
    const erase = (userId: string) =>
      eraseAccount(db(), { userId, dataDir: harness.app.env.DATA_DIR, pubSub: harness.stores.pubSub });

    /** An organisation of `owner` alone, with a pending invitation for `invitee`; the invitation's token. */
    async function invitedTo(owner: SignedInClient, invitee: SignedInClient, role: OrganizationRole) {
      const { organization } = await createOrganization(db(), { userId: owner.userId, name: 'Acme' });
      const { token } = await createInvitation(db(), {
        organizationId: organization.id,
        email: invitee.email,
        role,
        invitedBy: owner.userId,
      });
      return { organizationId: organization.id, token };
    }

    const accept = (client: SignedInClient, token: string) =>
      harness.app.inject({
        method: 'POST',
        url: '/api/organizations/invitations/accept',
        headers: client.headers,
        payload: { token },
      });

    const roles = (organizationId: string) => rolesIn(db(), organizationId);

    /**
     * PostgreSQL only: holds the organisation's row lock, which an acceptance takes first (as a concurrent acceptance
     * into it would); an erasure does not need it (it withdraws the invitations sent to the person, not the
     * organisation's row).
     */
    const holdOrganization = (organizationId: string) =>
      holdLock(db(), (tx) =>
        tx
          .select({ id: organizations.id })
          .from(organizations)
          .where(eq(organizations.id, organizationId))
          .for('update'),
      );

    it('never leaves an account erased during its acceptance a member (let alone an owner) of the organisation', async () => {
      const [owner, invitee] = await Promise.all([
        createSignedInAccount(harness.app),
        createSignedInAccount(harness.app),
      ]);
      const { organizationId, token } = await invitedTo(owner, invitee, 'owner');

      let answer: Awaited<ReturnType<typeof accept>>;
      if (pair.database.name === 'postgres') {
        // The acceptance waits at the organisation while the whole erasure runs and finds no membership to end.
        const lock = await holdOrganization(organizationId);
        const accepting = accept(invitee, token);
        await lock.waiting();
        expect(await erase(invitee.userId)).toBe(true);
        await lock.release();
        answer = await accepting;
      } else {
        // PGlite runs one transaction at a time: both orders are serial, and either must end the same way.
        [answer] = await Promise.all([accept(invitee, token), erase(invitee.userId)]);
      }
      expect(await roles(organizationId)).toEqual({ [owner.userId]: 'owner' });
      // An erasure that went first withdrew the invitation sent to the person and ended the account: the acceptance
      // is refused for either (the withdrawal counts from the erasure's time, so one that began before may see the
      // invitation still pending, then the account gone).
      const refusals = [
        { status: 400, code: 'token_invalid' },
        { status: 401, code: 'unauthenticated' },
      ];
      if (answer.statusCode !== 200) {
        expect(refusals).toContainEqual({ status: answer.statusCode, code: answer.json().error.code });
      }
      // On PostgreSQL the erasure went first: the acceptance, which waited, must be refused.
      if (pair.database.name === 'postgres') expect(answer.statusCode).not.toBe(200);
    });

    it('admits no one, even as owner, into an organisation whose last owner left no one to take over (409)', async () => {
      const [owner, asMember, asOwner] = await Promise.all([
        createSignedInAccount(harness.app),
        createSignedInAccount(harness.app),
        createSignedInAccount(harness.app),
      ]);
      const { organizationId, token: memberToken } = await invitedTo(owner, asMember, 'member');
      const { token: ownerToken } = await createInvitation(db(), {
        organizationId,
        email: asOwner.email,
        role: 'owner',
        invitedBy: owner.userId,
      });
      expect(await erase(owner.userId)).toBe(true);
      expect(await roles(organizationId)).toEqual({});

      for (const [client, token] of [
        [asMember, memberToken],
        [asOwner, ownerToken],
      ] as const) {
        const answer = await accept(client, token);
        expect(answer.statusCode).toBe(409);
        expect(answer.json().error).toEqual({
          code: 'conflict',
          message:
            'This organisation no longer has an owner, so it cannot admit anyone: the invitation cannot be used.',
        });
      }
      expect(await roles(organizationId)).toEqual({});
    });

    it('never leaves an organisation with members and no owner when its last owner goes as someone accepts (12 at once)', async () => {
      const cases = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const [owner, invitee] = await Promise.all([
            createSignedInAccount(harness.app),
            createSignedInAccount(harness.app),
          ]);
          return { owner, invitee, ...(await invitedTo(owner, invitee, 'member')) };
        }),
      );

      // The erasures start first and the acceptances 20 ms apart, so they meet an erasure at every stage of it.
      const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const answers = await Promise.all(
        cases.flatMap(({ owner, invitee, token }, index) => [
          pause(index * 20).then(() => accept(invitee, token)),
          erase(owner.userId),
        ]),
      );

      for (const [index, { invitee, organizationId }] of cases.entries()) {
        const answer = answers[index * 2] as Awaited<ReturnType<typeof accept>>;
        // Either the invitee joined first and was made owner when the owner went, or the owner went first and the
        // invitation found an organisation without one.
        if (answer.statusCode === 200) {
          expect(await roles(organizationId)).toEqual({ [invitee.userId]: 'owner' });
        } else {
          expect(answer.statusCode).toBe(409);
          expect(await roles(organizationId)).toEqual({});
        }
      }
    });
  });
}
