import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { runMigrations } from '../../db/migrate.js';
import { describeMigration } from '../../testing/migrations.js';
import { auditEvents } from '../accounts/tables.js';
import { virtualKeys } from '../gateway/tables.js';
import { type OrganizationRole, organizationMembers, organizations } from './tables.js';
import { rolesIn } from './testing.js';

describeMigration('0012_organizations_erased_members', (connection) => {
  it('ends the memberships of erased accounts, handing their organisations over as erasure does today', async () => {
    const db = connection().db;
    const account = async (status: 'active' | 'disabled' | 'deleted') => {
      const id = randomUUID();
      // An erased account as erasure left it: anonymised, role user, status deleted.
      const email = status === 'deleted' ? `deleted-${id}@deleted.invalid` : `${id}@example.com`;
      // In SQL: the schema in the code may have columns this migration's database does not have yet.
      await db.execute(
        sql`insert into users (id, email, name, status) values (${id}, ${email}, ${status === 'deleted' ? '' : 'Someone'}, ${status})`,
      );
      return id;
    };
    const start = Date.now() - 24 * 60 * 60 * 1000;
    /** An organisation whose members joined in this order, a minute apart. */
    const organization = async (...members: Array<[string, OrganizationRole]>) => {
      const [row] = await db.insert(organizations).values({ name: 'Acme' }).returning();
      for (const [index, [userId, role]] of members.entries()) {
        await db.insert(organizationMembers).values({
          organizationId: row!.id,
          userId,
          role,
          createdAt: new Date(start + index * 60_000),
        });
      }
      return row!.id;
    };

    const [erased, erasedToo, erasedMember] = [
      await account('deleted'),
      await account('deleted'),
      await account('deleted'),
    ];
    const [disabled, first, second, coOwner, owner] = [
      await account('disabled'),
      await account('active'),
      await account('active'),
      await account('active'),
      await account('active'),
    ];
    // The erased owner's earliest member is disabled: passed over, as removeAllMemberships passes it over.
    const handedOver = await organization(
      [erased, 'owner'],
      [disabled, 'member'],
      [first, 'member'],
      [second, 'member'],
    );
    const coOwned = await organization([erased, 'owner'], [coOwner, 'owner'], [second, 'member']);
    const nobodyLeft = await organization([erased, 'owner'], [disabled, 'member']);
    const twoErasedOwners = await organization(
      [erasedToo, 'owner'],
      [erased, 'owner'],
      [erasedMember, 'member'],
      [second, 'member'],
    );
    const erasedMemberOnly = await organization([owner, 'owner'], [erasedMember, 'member']);

    const key = async (userId: string, revokedAt: Date | null = null) => {
      const id = randomUUID();
      await db.insert(virtualKeys).values({
        id,
        userId,
        name: 'k',
        prefix: 'wbx_test',
        secretHash: randomUUID(),
        revokedAt,
      });
      return id;
    };
    const revokedLongAgo = new Date(start);
    const keys = {
      erasedLive: await key(erased),
      erasedRevoked: await key(erased, revokedLongAgo),
      activeLive: await key(first),
    };

    await runMigrations(connection());

    expect(await rolesIn(db, handedOver)).toEqual({
      [disabled]: 'member',
      [first]: 'owner',
      [second]: 'member',
    });
    expect(await rolesIn(db, coOwned)).toEqual({ [coOwner]: 'owner', [second]: 'member' });
    expect(await rolesIn(db, nobodyLeft)).toEqual({ [disabled]: 'member' });
    expect(await rolesIn(db, twoErasedOwners)).toEqual({ [second]: 'owner' });
    expect(await rolesIn(db, erasedMemberOnly)).toEqual({ [owner]: 'owner' });

    // Each hand-over recorded as the code records it, in the new owner's activity; nothing else.
    const promotions = await db
      .select({ userId: auditEvents.userId, actorId: auditEvents.actorId, details: auditEvents.details })
      .from(auditEvents)
      .where(eq(auditEvents.type, 'organization.owner_promoted'));
    expect(promotions).toHaveLength(2);
    expect(promotions).toEqual(
      expect.arrayContaining([
        {
          userId: first,
          actorId: null,
          details: { organizationId: handedOver, previousOwnerId: erased, reason: 'account_erased' },
        },
        {
          userId: second,
          actorId: null,
          details: { organizationId: twoErasedOwners, previousOwnerId: erased, reason: 'account_erased' },
        },
      ]),
    );

    const keyRows = await db
      .select({ id: virtualKeys.id, revokedAt: virtualKeys.revokedAt })
      .from(virtualKeys)
      .where(inArray(virtualKeys.id, Object.values(keys)));
    const revoked = Object.fromEntries(keyRows.map((row) => [row.id, row.revokedAt]));
    expect(revoked[keys.erasedLive]).toBeInstanceOf(Date);
    expect(revoked[keys.erasedRevoked]).toEqual(revokedLongAgo);
    expect(revoked[keys.activeLive]).toBeNull();
  });
});
