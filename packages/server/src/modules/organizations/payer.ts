import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { PubSub } from '../../stores/index.js';
import type { Payer } from '../billing/index.js';
import { organizationOfKey } from '../gateway/keys-service.js';
import { getMembership, MEMBERSHIP_CHANNEL, type Membership, membershipKey } from './service.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface OrganizationPayerOptions {
  db: Database;
  pubSub: PubSub;
  /** How long a membership (role and limits) is cached when no change is announced (default 30 s). */
  membershipTtlMs?: number;
}

export { membershipKey };

/**
 * The billing `payerFor` hook: a call made with an organisation's key pays from that organisation's wallet, as its
 * member (recorded on the hold and the usage entry), within the member's own daily and monthly credit limits.
 * Personal keys and signed-in calls pay from the caller's wallet. A key's organisation never changes, so it is
 * cached for minutes; memberships for seconds, and every process drops one as soon as it changes.
 */
export function createOrganizationPayer(options: OrganizationPayerOptions) {
  const organizationsOfKeys = new LRUCache<string, Promise<string | null>>({ max: 50_000, ttl: 300_000 });
  // false: not a member (cached too, so a removed member's burst of calls costs one lookup).
  const memberships = new LRUCache<string, Promise<Membership | false>>({
    max: 50_000,
    ttl: options.membershipTtlMs ?? 30_000,
  });

  const cached = <Value>(
    cache: LRUCache<string, Promise<Value>>,
    key: string,
    load: () => Promise<Value>,
  ) => {
    let value = cache.get(key);
    if (!value) {
      value = load();
      value.catch(() => cache.delete(key));
      cache.set(key, value);
    }
    return value;
  };

  return {
    async start(): Promise<() => Promise<void>> {
      return options.pubSub.subscribe(MEMBERSHIP_CHANNEL, (key) => {
        memberships.delete(key);
      });
    },

    /** Tells every process (this one included) that a membership changed. */
    async membershipChanged(organizationId: string, userId: string): Promise<void> {
      const key = membershipKey(organizationId, userId);
      memberships.delete(key);
      await options.pubSub.publish(MEMBERSHIP_CHANNEL, key);
    },

    async payerFor(caller: { userId: string; keyId: string | null }): Promise<Payer | undefined> {
      // Virtual key ids are UUIDs; anything else (a caller made up by a test or another port) has no organisation.
      if (!caller.keyId || !uuidPattern.test(caller.keyId)) return undefined;
      const keyId = caller.keyId;
      const organizationId = await cached(organizationsOfKeys, keyId, () =>
        organizationOfKey(options.db, keyId),
      );
      if (!organizationId) return undefined;
      const membership = await cached(
        memberships,
        membershipKey(organizationId, caller.userId),
        async () => (await getMembership(options.db, { organizationId, userId: caller.userId })) ?? false,
      );
      // Removal revokes the person's keys; this covers the moment between the two.
      if (!membership) {
        throw new AppError('forbidden', 'This key belongs to an organisation you are no longer a member of.');
      }
      return {
        ownerType: 'organization',
        ownerId: organizationId,
        memberUserId: caller.userId,
        memberLimits: {
          monthlyCredits: membership.monthlyCreditLimit ?? undefined,
          dailyCredits: membership.dailyCreditLimit ?? undefined,
        },
      };
    },
  };
}

export type OrganizationPayer = ReturnType<typeof createOrganizationPayer>;
