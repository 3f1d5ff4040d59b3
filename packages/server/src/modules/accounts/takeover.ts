import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { PubSub } from '../../stores/index.js';
import { revokeUserKeys } from '../gateway/keys-service.js';
import { removeAllMemberships } from '../organizations/index.js';
import { PROVIDER_KEYS_CHANNEL } from './provider-keys.js';
import { revokeAllSessions } from './sessions.js';
import { backupCodes, emailTokens, providerKeys, users } from './tables.js';

export interface ChangeOfHandsOptions {
  userId: string;
  /** Recorded on the revoked sessions (e.g. `oauth_took_over_unverified`). */
  reason: string;
  /**
   * `credentials`: every way in its previous holder set up ends (sessions and their refresh tokens, virtual keys,
   * TOTP and backup codes, pending email links). `everything` also drops what they brought in: own provider keys
   * and organisation memberships. Use `everything` when the address was never verified, so the previous holder was
   * not necessarily its owner.
   */
  scope: 'credentials' | 'everything';
}

/**
 * An account changing hands: the proven owner of its address takes over (OAuth with a verified address, a password
 * reset link, the first-admin setup). Nothing the previous holder set up may keep working: an attacker who signed up
 * with someone else's address must not keep a session, a key spending the owner's credits, or a TOTP secret locking
 * the owner out. Revocations are broadcast, so every process's caches drop them at once. The password is the
 * caller's business (cleared or replaced). Call it after the change is committed.
 */
export async function revokePreviousHolder(
  db: Database,
  pubSub: PubSub,
  options: ChangeOfHandsOptions,
): Promise<void> {
  const { userId } = options;
  await revokeAllSessions(db, { userId, reason: options.reason });
  await db
    .update(users)
    .set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null, updatedAt: new Date() })
    .where(eq(users.id, userId));
  await db.delete(backupCodes).where(eq(backupCodes.userId, userId));
  // A pending email change would otherwise move the account to an address of the previous holder's choosing.
  await db
    .update(emailTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(emailTokens.userId, userId), isNull(emailTokens.usedAt)));
  await revokeUserKeys(db, pubSub, { userId });
  if (options.scope === 'everything') {
    const removed = await db.delete(providerKeys).where(eq(providerKeys.userId, userId)).returning({
      id: providerKeys.id,
    });
    if (removed.length > 0) await pubSub.publish(PROVIDER_KEYS_CHANNEL, userId);
    await removeAllMemberships(db, pubSub, { userId, reason: 'account_taken_over' });
  }
}
