import { eq } from 'drizzle-orm';
import type { Env } from '../../config/env.js';
import type { Database } from '../../db/client.js';
import { recordAuditEvent } from './audit.js';
import type { RequestOrigin } from './context.js';
import { securitySettings } from './tables.js';

export interface SecurityPolicy {
  /** Admin and support accounts must have TOTP enabled before they can use anything but enrolment. */
  requireTwoFactorForStaff: boolean;
}

const REQUIRE_2FA = 'require_two_factor_for_staff';
// Read on every staff request: a few seconds of staleness per process is the price of not querying each time.
const CACHE_MS = 5_000;
const cache = new WeakMap<Database, { value: SecurityPolicy; at: number }>();

/** The policy in force: the admin's runtime choice when one was made, otherwise REQUIRE_2FA_FOR_STAFF. */
export async function getSecurityPolicy(db: Database, env: Pick<Env, 'REQUIRE_2FA_FOR_STAFF'>) {
  const cached = cache.get(db);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
  const [row] = await db
    .select({ value: securitySettings.value })
    .from(securitySettings)
    .where(eq(securitySettings.name, REQUIRE_2FA))
    .limit(1);
  const value: SecurityPolicy = {
    requireTwoFactorForStaff: typeof row?.value === 'boolean' ? row.value : env.REQUIRE_2FA_FOR_STAFF,
  };
  cache.set(db, { value, at: Date.now() });
  return value;
}

/**
 * Sets the policy and records it (`admin.policy_changed`, the acting admin) in one transaction: a change that cannot be
 * audited is not made.
 */
export async function updateSecurityPolicy(
  db: Database,
  options: { requireTwoFactorForStaff: boolean; actorId: string } & RequestOrigin,
): Promise<SecurityPolicy> {
  await db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    await tx
      .insert(securitySettings)
      .values({ name: REQUIRE_2FA, value: options.requireTwoFactorForStaff, updatedBy: options.actorId })
      .onConflictDoUpdate({
        target: securitySettings.name,
        set: { value: options.requireTwoFactorForStaff, updatedBy: options.actorId, updatedAt: new Date() },
      });
    await recordAuditEvent(tx, {
      type: 'admin.policy_changed',
      userId: options.actorId,
      actorId: options.actorId,
      ip: options.ip,
      userAgent: options.userAgent,
      details: { requireTwoFactorForStaff: options.requireTwoFactorForStaff },
    });
  });
  cache.delete(db);
  return { requireTwoFactorForStaff: options.requireTwoFactorForStaff };
}
