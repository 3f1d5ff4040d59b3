import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPairs } from '../../testing/backend-pairs.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import { listAuditEvents } from '../accounts/audit.js';
import { eraseAccount, eraseDueAccounts } from '../accounts/privacy.js';
import { users } from '../accounts/tables.js';
import { revokePreviousHolder } from '../accounts/takeover.js';
import { createSignedInAccount } from '../accounts/testing.js';
import { getBalance, postEntry, verifyLedger } from '../billing/index.js';
import { createVirtualKey } from '../gateway/keys-service.js';
import { virtualKeys } from '../gateway/tables.js';
import {
  createOrganization,
  MEMBERSHIP_CHANNEL,
  membershipKey,
  organizationWallet,
  removeAllMemberships,
} from './service.js';
import { organizationMembers } from './tables.js';
import { rolesIn } from './testing.js';

for (const pair of backendPairs()) {
  describe(`an organisation keeps an owner when people leave it by takeover or erasure on ${pair.name}`, () => {
    let harness: TestApp;
    const announced: string[] = [];
    let unsubscribe: () => Promise<void>;

    beforeAll(async () => {
      harness = await createTestApp(pair);
      unsubscribe = await harness.stores.pubSub.subscribe(MEMBERSHIP_CHANNEL, (key) => {
        announced.push(key);
      });
    });
    afterAll(async () => {
      await unsubscribe?.();
      await harness?.close();
    });

    const db = () => harness.app.db;
    const person = async () => (await createSignedInAccount(harness.app)).userId;

    /** An organisation created by `owner`, then the others joined in this order, a minute apart. */
    async function organizationOf(owner: string, ...others: Array<{ userId: string; role?: 'owner' }>) {
      const { organization } = await createOrganization(db(), { userId: owner, name: 'Acme' });
      const start = Date.now() - 24 * 60 * 60 * 1000;
      await db()
        .update(organizationMembers)
        .set({ createdAt: new Date(start) })
        .where(eq(organizationMembers.organizationId, organization.id));
      for (const [index, other] of others.entries()) {
        await db()
          .insert(organizationMembers)
          .values({
            organizationId: organization.id,
            userId: other.userId,
            role: other.role ?? 'member',
            createdAt: new Date(start + (index + 1) * 60_000),
          });
      }
      return organization.id;
    }

    const roles = (organizationId: string) => rolesIn(db(), organizationId);

    async function promotionsIn(organizationId: string, userId: string) {
      const events = await listAuditEvents(db(), { userId, types: ['organization.owner_promoted'] });
      return events.filter((event) => event.details.organizationId === organizationId);
    }

    async function expectAnnounced(...keys: string[]) {
      const deadline = Date.now() + 5_000;
      while (!keys.every((key) => announced.includes(key)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(announced).toEqual(expect.arrayContaining(keys));
    }

    async function fund(organizationId: string, credits: number) {
      const wallet = await organizationWallet(db(), organizationId);
      await postEntry(db(), {
        walletId: wallet.id,
        kind: 'grant',
        amount: credits,
        idempotencyKey: `test-grant-${randomUUID()}`,
      });
      return wallet.id;
    }

    const takeOver = (userId: string) =>
      revokePreviousHolder(db(), harness.stores.pubSub, {
        userId,
        reason: 'test_took_over',
        scope: 'everything',
      });
    const erase = (userId: string) =>
      eraseAccount(db(), { userId, dataDir: harness.app.env.DATA_DIR, pubSub: harness.stores.pubSub });

    for (const [way, leave, reason] of [
      ['takeover', takeOver, 'account_taken_over'],
      ['erasure', erase, 'account_erased'],
    ] as const) {
      it(`hands a last owner's organisation, on ${way}, to the longest-standing active member, audited and announced`, async () => {
        const [owner, disabled, first, second] = await Promise.all([person(), person(), person(), person()]);
        // The earliest member's account is disabled: an admin cut it off, so it is passed over.
        await db().update(users).set({ status: 'disabled' }).where(eq(users.id, disabled));
        const organizationId = await organizationOf(
          owner,
          { userId: disabled },
          { userId: first },
          { userId: second },
        );
        const walletId = await fund(organizationId, 5_000);
        const { summary: key } = await createVirtualKey(db(), { userId: owner, name: 'org', organizationId });

        await leave(owner);

        // The caller's revokeUserKeys stops the organisation's keys too: removeAllMemberships leaves keys to it.
        const [revoked] = await db()
          .select({ revokedAt: virtualKeys.revokedAt })
          .from(virtualKeys)
          .where(eq(virtualKeys.id, key.id));
        expect(revoked?.revokedAt).toBeInstanceOf(Date);

        expect(await roles(organizationId)).toEqual({
          [disabled]: 'member',
          [first]: 'owner',
          [second]: 'member',
        });
        const [promotion, ...more] = await promotionsIn(organizationId, first);
        expect(more).toEqual([]);
        expect(promotion).toMatchObject({
          userId: first,
          actorId: null,
          details: { organizationId, previousOwnerId: owner, reason },
        });
        await expectAnnounced(membershipKey(organizationId, owner), membershipKey(organizationId, first));
        expect(await getBalance(db(), walletId)).toMatchObject({ balance: 5_000, held: 0 });
      });

      it(`leaves the other owners in charge when an owner who is not the last goes by ${way}`, async () => {
        const [owner, coOwner, member] = await Promise.all([person(), person(), person()]);
        const organizationId = await organizationOf(
          owner,
          { userId: member },
          { userId: coOwner, role: 'owner' },
        );
        await leave(owner);
        expect(await roles(organizationId)).toEqual({ [coOwner]: 'owner', [member]: 'member' });
        expect(await promotionsIn(organizationId, member)).toEqual([]);
      });

      it(`keeps the organisation and its money, without an owner, when no active member is left after ${way}`, async () => {
        const [owner, disabled] = await Promise.all([person(), person()]);
        const alone = await organizationOf(owner);
        const withDisabled = await organizationOf(owner, { userId: disabled });
        await db().update(users).set({ status: 'disabled' }).where(eq(users.id, disabled));
        const wallets = [await fund(alone, 700), await fund(withDisabled, 300)];

        await leave(owner);

        expect(await roles(alone)).toEqual({});
        expect(await roles(withDisabled)).toEqual({ [disabled]: 'member' });
        expect(await getBalance(db(), wallets[0]!)).toMatchObject({ balance: 700 });
        expect(await getBalance(db(), wallets[1]!)).toMatchObject({ balance: 300 });
        expect(await verifyLedger(db())).toEqual([]);
      });
    }

    it('finishes, at the next sweep, an erasure whose process stopped before its account left its organisations', async () => {
      const [owner, member] = await Promise.all([person(), person()]);
      const organizationId = await organizationOf(owner, { userId: member });
      const { summary: key } = await createVirtualKey(db(), { userId: owner, name: 'org', organizationId });
      // What a stop right after the erasure's commit leaves: the account erased, its memberships and keys not yet.
      await db()
        .update(users)
        .set({ status: 'deleted', email: `deleted-${owner}@deleted.invalid`, name: '' })
        .where(eq(users.id, owner));

      expect(
        await eraseDueAccounts(db(), { dataDir: harness.app.env.DATA_DIR, pubSub: harness.stores.pubSub }),
      ).toBe(0);

      expect(await roles(organizationId)).toEqual({ [member]: 'owner' });
      expect(await promotionsIn(organizationId, member)).toHaveLength(1);
      const [revoked] = await db()
        .select({ revokedAt: virtualKeys.revokedAt })
        .from(virtualKeys)
        .where(eq(virtualKeys.id, key.id));
      expect(revoked?.revokedAt).toBeInstanceOf(Date);
      await expectAnnounced(membershipKey(organizationId, owner), membershipKey(organizationId, member));
    });

    it('makes exactly one new owner when the two last owners go at the same time (real parallel removals)', async () => {
      // Twelve organisations, each with its own two owners and a member; all 24 removals start at once.
      const trios = await Promise.all(
        Array.from({ length: 12 }, async () => ({
          first: await person(),
          second: await person(),
          member: await person(),
        })),
      );
      const organizationIds = await Promise.all(
        trios.map(({ first, second, member }) =>
          organizationOf(first, { userId: second, role: 'owner' }, { userId: member }),
        ),
      );

      const removed = await Promise.all(
        trios.flatMap(({ first, second }) => [
          removeAllMemberships(db(), harness.stores.pubSub, { userId: first, reason: 'account_erased' }),
          removeAllMemberships(db(), harness.stores.pubSub, { userId: second, reason: 'account_taken_over' }),
        ]),
      );

      expect(removed.every((count) => count === 1)).toBe(true);
      for (const [index, organizationId] of organizationIds.entries()) {
        const { member } = trios[index]!;
        expect(await roles(organizationId)).toEqual({ [member]: 'owner' });
        expect(await promotionsIn(organizationId, member)).toHaveLength(1);
      }
    });

    it('promotes once when the same last owner is removed twice at the same time (erasure racing a takeover)', async () => {
      const owner = await person();
      const [first, second] = await Promise.all([person(), person()]);
      const organizationIds = [];
      for (let index = 0; index < 6; index += 1) {
        organizationIds.push(await organizationOf(owner, { userId: first }, { userId: second }));
      }

      const removed = await Promise.all([
        removeAllMemberships(db(), harness.stores.pubSub, { userId: owner, reason: 'account_erased' }),
        removeAllMemberships(db(), harness.stores.pubSub, { userId: owner, reason: 'account_taken_over' }),
      ]);

      expect(removed[0]! + removed[1]!).toBe(6);
      for (const organizationId of organizationIds) {
        expect(await roles(organizationId)).toEqual({ [first]: 'owner', [second]: 'member' });
        expect(await promotionsIn(organizationId, first)).toHaveLength(1);
      }
      const [left] = await db()
        .select()
        .from(organizationMembers)
        .where(eq(organizationMembers.userId, owner));
      expect(left).toBeUndefined();
    });
  });
}
