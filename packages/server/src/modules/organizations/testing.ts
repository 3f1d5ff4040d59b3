import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { organizationMembers } from './tables.js';

/** Helpers for organisation tests. Who belongs to an organisation, as `{ [userId]: role }`. */
export async function rolesIn(db: Database, organizationId: string) {
  const rows = await db
    .select({ userId: organizationMembers.userId, role: organizationMembers.role })
    .from(organizationMembers)
    .where(eq(organizationMembers.organizationId, organizationId));
  return Object.fromEntries(rows.map((row) => [row.userId, row.role]));
}
